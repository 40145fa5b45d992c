/* The chat page's behaviour (full page and widget frame), loaded in the page's head.
 * - [n] opens its source entry and moves the focus there (a link, not plain text);
 * - an empty submit does nothing: no bubble, no message, the focus stays in the box;
 * - Escape inside the widget's frame closes the widget (the host page cannot see keys in a frame);
 * - after an answer the view shows its first line, not the end of its source list. */
(function () {
  "use strict";
  var chat = {};

  function questionBox() {
    return document.querySelector("#clbp-question textarea");
  }

  chat.focusQuestion = function () {
    var box = questionBox();
    if (box) box.focus();
  };

  chat.showLatestAnswer = function () {
    var rows = document.querySelectorAll("#clbp-chat .message-row.bot-row");
    var last = rows[rows.length - 1];
    if (last) last.scrollIntoView({ block: "start", behavior: "instant" });
  };

  function sourceEntry(link) {
    var id = decodeURIComponent((link.getAttribute("href") || "").replace(/^#/, ""));
    // Gradio's sanitizer may prefix ids it keeps ("user-content-"): find either.
    return document.getElementById(id) || document.getElementById("user-content-" + id);
  }

  document.addEventListener("click", function (e) {
    var target = e.target instanceof Element ? e.target : null;
    var cite = target && target.closest("a.clbp-cite");
    if (cite) {
      e.preventDefault();
      e.stopPropagation();
      var entry = sourceEntry(cite);
      if (!entry) return;
      entry.open = true;
      var summary = entry.querySelector("summary");
      (summary || entry).focus();
      entry.scrollIntoView({ block: "nearest", behavior: "instant" });
      return;
    }
    var ask = target && target.closest("#clbp-question button");
    var box = questionBox();
    if (ask && box && !box.value.trim()) {
      e.preventDefault();
      e.stopImmediatePropagation();
      box.focus();
    }
  }, true);

  document.addEventListener("keydown", function (e) {
    var box = questionBox();
    if (e.key === "Enter" && !e.shiftKey && box && e.target === box && !box.value.trim()) {
      e.preventDefault();
      e.stopImmediatePropagation();
    }
    if (e.key === "Escape" && window.parent !== window) {
      window.parent.postMessage({ clbp: "close" }, "*");
    }
  }, true);

  window.clbpChat = chat;
})();
