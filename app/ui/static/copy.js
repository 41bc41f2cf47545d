// Copy button for the raw key shown once after create/regenerate (this project's own code).
document.querySelectorAll("button.copy").forEach(function (button) {
  button.addEventListener("click", function () {
    var text = document.getElementById(button.dataset.copy).textContent;
    function done() { button.textContent = "Copied"; }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { select(); });
    } else {
      select();
    }
    function select() {
      var range = document.createRange();
      range.selectNodeContents(document.getElementById(button.dataset.copy));
      var sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      try { if (document.execCommand("copy")) { done(); } } catch (e) { /* selected: Ctrl+C */ }
    }
  });
});
