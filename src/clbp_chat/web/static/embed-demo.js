// The embed demo page's copy button (a file, not inline, so the page's CSP can forbid inline code).
document.getElementById("copy").addEventListener("click", function () {
  navigator.clipboard.writeText(document.getElementById("snippet").innerText).then(function () {
    document.getElementById("copied").textContent = "Copied.";
  });
});
