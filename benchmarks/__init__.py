"""Performance benchmark (`make bench`) and its synthetic park catalogues."""
