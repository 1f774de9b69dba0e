"""Draft a knowledge base from a policy document: see `features.draft.build.draft_kb`."""
