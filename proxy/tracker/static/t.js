/* Vernier tracker placeholder: the tracker issue replaces this file with the build of tracker_js/. */
(function () {
  "use strict";
  try {
    var w = window;
    w.vernier = w.vernier || { track: function () {}, consent: function () {} };
  } catch (e) {}
})();
