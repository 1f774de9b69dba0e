// Starts ReDoc on /redoc from a file, not an inline script, so the page keeps a strict CSP.
(function () {
  "use strict";
  var el = document.getElementById("redoc");
  Redoc.init(el.dataset.openapiUrl, { hideDownloadButton: false }, el);
})();
