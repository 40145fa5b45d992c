/* clbp-chat widget: one <script> tag adds a chat button that opens the clinic's chat in a panel.
 *   <script src="https://CLINIC-HOST/widget.js" data-title="Ask about stem-cell therapy"
 *           data-color="#0f766e" data-position="right" async></script>
 * Everything loads from the clinic's own server; nothing from third parties. The server fills in
 * the config below: the origins allowed to frame the chat (CLBP_ALLOWED_ORIGINS) and the texts. */
(function () {
  "use strict";
  var config = /*CLBP_CONFIG*/{};
  var script = document.currentScript;
  if (!script || window.__clbpChatWidget) return;
  window.__clbpChatWidget = true;

  var origin = new URL(script.src, window.location.href).origin;
  var title = script.getAttribute("data-title") || config.title;
  var color = /^#[0-9a-fA-F]{3,8}$/.test(script.getAttribute("data-color") || "")
    ? script.getAttribute("data-color") : "#0f766e";
  var side = script.getAttribute("data-position") === "left" ? "left" : "right";
  var here = window.location.origin;
  // Browsers refuse to show the chat in a frame on any other origin (the CSP's frame-ancestors):
  // say so once, for the site's owner, instead of a grey page.
  var refused = here !== origin && (config.allowed || []).indexOf(here) < 0
    ? String(config.refused || "").replace("{origin}", here) : null;
  if (refused && window.console) console.warn(refused);

  var font = "system-ui,-apple-system,'Segoe UI',Roboto,sans-serif";
  var style = document.createElement("style");
  style.textContent =
    "#clbp-chat-button{position:fixed;bottom:20px;" + side + ":20px;z-index:2147483646;" +
    "background:" + color + ";color:#fff;border:0;border-radius:999px;padding:14px 18px;" +
    "font:600 15px/1.2 " + font + ";cursor:pointer;box-shadow:0 4px 14px rgba(0,0,0,.25)}" +
    "#clbp-chat-button:focus-visible{outline:3px solid #111;outline-offset:3px}" +
    // The panel fits the window: the chat inside pins its question box to the panel's bottom.
    "#clbp-chat-panel{position:fixed;bottom:84px;" + side + ":20px;z-index:2147483647;" +
    "width:400px;max-width:calc(100vw - 24px);height:640px;max-height:calc(100vh - 104px);" +
    "max-height:calc(100dvh - 104px);background:#fff;border-radius:14px;" +
    "box-shadow:0 8px 30px rgba(0,0,0,.3);overflow:hidden;display:none;flex-direction:column}" +
    "#clbp-chat-panel[data-open=true]{display:flex}" +
    "#clbp-chat-header{display:flex;align-items:center;justify-content:space-between;gap:8px;" +
    "flex:0 0 auto;background:" + color + ";color:#fff;padding:8px 10px 8px 14px;" +
    "font:600 15px/1.3 " + font + "}" +
    "#clbp-chat-close{background:transparent;border:0;color:#fff;font-size:24px;cursor:pointer;" +
    "line-height:1;min-width:44px;min-height:44px}" +
    "#clbp-chat-close:focus-visible{outline:3px solid #fff;outline-offset:-4px}" +
    "#clbp-chat-frame{border:0;flex:1 1 auto;min-height:0;width:100%;display:block}" +
    "#clbp-chat-refused{margin:0;padding:16px;font:15px/1.5 " + font + ";color:#1f2937}" +
    "@media (max-width:480px),(max-height:600px){#clbp-chat-panel{inset:0;width:100%;" +
    "max-width:none;height:100%;max-height:none;border-radius:0}}";
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
  close.setAttribute("aria-label", config.close || "Close chat");
  close.textContent = "\u00d7";
  header.appendChild(heading);
  header.appendChild(close);
  panel.appendChild(header);

  var body = null;
  function open() {
    if (!body) {
      if (refused) {
        body = document.createElement("p");
        body.id = "clbp-chat-refused";
        body.textContent = refused;
      } else {
        body = document.createElement("iframe");
        body.id = "clbp-chat-frame";
        body.title = title;
        body.src = origin + "/embed/";
      }
      panel.appendChild(body);
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
