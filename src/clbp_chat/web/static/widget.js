/* clbp-chat widget: one <script> tag adds a chat button that opens the clinic's chat in a panel.
 *   <script src="https://CLINIC-HOST/widget.js" data-title="Ask about stem-cell therapy"
 *           data-color="#0f766e" data-position="right" async></script>
 * Everything loads from the clinic's own server; nothing from third parties. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.__clbpChatWidget) return;
  window.__clbpChatWidget = true;

  var origin = new URL(script.src, window.location.href).origin;
  var title = script.getAttribute("data-title") || "Questions about stem-cell therapy?";
  var color = /^#[0-9a-fA-F]{3,8}$/.test(script.getAttribute("data-color") || "")
    ? script.getAttribute("data-color") : "#0f766e";
  var side = script.getAttribute("data-position") === "left" ? "left" : "right";

  var style = document.createElement("style");
  style.textContent =
    "#clbp-chat-button{position:fixed;bottom:20px;" + side + ":20px;z-index:2147483646;" +
    "background:" + color + ";color:#fff;border:0;border-radius:999px;padding:14px 18px;" +
    "font:600 15px/1.2 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;cursor:pointer;" +
    "box-shadow:0 4px 14px rgba(0,0,0,.25)}" +
    "#clbp-chat-button:focus-visible{outline:3px solid #111;outline-offset:3px}" +
    "#clbp-chat-panel{position:fixed;bottom:84px;" + side + ":20px;z-index:2147483647;" +
    "width:400px;max-width:calc(100vw - 24px);height:640px;max-height:calc(100vh - 110px);" +
    "background:#fff;border-radius:14px;box-shadow:0 8px 30px rgba(0,0,0,.3);overflow:hidden;" +
    "display:none;flex-direction:column}" +
    "#clbp-chat-panel[data-open=true]{display:flex}" +
    "#clbp-chat-header{display:flex;align-items:center;justify-content:space-between;" +
    "background:" + color + ";color:#fff;padding:10px 14px;" +
    "font:600 15px system-ui,-apple-system,'Segoe UI',Roboto,sans-serif}" +
    "#clbp-chat-close{background:transparent;border:0;color:#fff;font-size:22px;cursor:pointer;" +
    "line-height:1;padding:2px 6px}" +
    "#clbp-chat-frame{border:0;flex:1;width:100%}" +
    "@media (max-width:480px){#clbp-chat-panel{inset:0;width:100%;max-width:none;height:100%;" +
    "max-height:none;border-radius:0}}";
  document.head.appendChild(style);

  var button = document.createElement("button");
  button.id = "clbp-chat-button";
  button.type = "button";
  button.textContent = title;
  button.setAttribute("aria-expanded", "false");
  button.setAttribute("aria-controls", "clbp-chat-panel");

  var panel = document.createElement("div");
  panel.id = "clbp-chat-panel";
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", title);

  var header = document.createElement("div");
  header.id = "clbp-chat-header";
  var heading = document.createElement("span");
  heading.textContent = title;
  var close = document.createElement("button");
  close.id = "clbp-chat-close";
  close.type = "button";
  close.setAttribute("aria-label", "Close chat");
  close.innerHTML = "&times;";
  header.appendChild(heading);
  header.appendChild(close);
  panel.appendChild(header);

  var frame = null;
  function open() {
    if (!frame) {
      frame = document.createElement("iframe");
      frame.id = "clbp-chat-frame";
      frame.title = title;
      frame.src = origin + "/embed/";
      panel.appendChild(frame);
    }
    panel.setAttribute("data-open", "true");
    button.setAttribute("aria-expanded", "true");
    close.focus();
  }
  function shut() {
    panel.setAttribute("data-open", "false");
    button.setAttribute("aria-expanded", "false");
    button.focus();
  }
  button.addEventListener("click", function () {
    panel.getAttribute("data-open") === "true" ? shut() : open();
  });
  close.addEventListener("click", shut);
  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape" && panel.getAttribute("data-open") === "true") shut();
  });
  // Escape pressed inside the chat frame arrives as a message from the chat's own origin.
  window.addEventListener("message", function (e) {
    if (e.origin === origin && e.data && e.data.clbp === "close" &&
        panel.getAttribute("data-open") === "true") shut();
  });

  function mount() {
    document.body.appendChild(panel);
    document.body.appendChild(button);
  }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
})();
