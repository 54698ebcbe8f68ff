// Keyboard shortcuts for the review queue and post page. No inline script (CSP).
(function () {
  "use strict";
  function typing(event) {
    var t = event.target;
    return t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable);
  }
  function click(id) {
    var el = document.getElementById(id);
    if (el) { el.click(); return true; }
    return false;
  }
  var selected = -1;
  function rows() { return Array.prototype.slice.call(document.querySelectorAll("tr.queue-row")); }
  function select(i) {
    var all = rows();
    if (!all.length) return;
    selected = Math.max(0, Math.min(all.length - 1, i));
    all.forEach(function (r, j) { r.classList.toggle("selected", j === selected); });
    all[selected].scrollIntoView({ block: "nearest" });
  }
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event)) return;
    var key = event.key;
    if (document.getElementById("decision-form")) {
      if (key === "c" && click("confirm")) event.preventDefault();
      else if (key === "x" && click("dismiss")) event.preventDefault();
      else if (key === "e" && click("escalate")) event.preventDefault();
      else if (key === "n" && click("next-post")) event.preventDefault();
      return;
    }
    if (document.getElementById("queue")) {
      if (key === "j") { select(selected + 1); event.preventDefault(); }
      else if (key === "k") { select(selected - 1); event.preventDefault(); }
      else if (key === "Enter" && selected >= 0) { window.location.href = rows()[selected].getAttribute("data-href"); }
      else if (key === "n" && click("next-page")) event.preventDefault();
    }
  });
})();
