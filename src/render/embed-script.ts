import { RESIZE_MESSAGE } from "./page";

/**
 * /embed.js: the optional script a page includes to let card iframes size themselves. It
 * needs nothing but the message each card posts (render/page.ts): it finds the iframe whose
 * window sent it, checks the message came from that iframe's own origin, and sets the height.
 * No dependencies, no eval, no inline code: it runs under any CSP that allows the script.
 */
export const EMBED_JS = `/* beatpass-edge embed.js: resizes iframes marked data-beatpass-embed to their card's height. */
(function () {
  "use strict";
  if (window.__beatpassEmbed) return;
  window.__beatpassEmbed = true;
  window.addEventListener("message", function (event) {
    var data = event.data;
    if (!data || data.type !== "${RESIZE_MESSAGE}") return;
    var height = Math.ceil(Number(data.height));
    if (!(height > 0 && height < 10000)) return;
    var frames = document.querySelectorAll("iframe[data-beatpass-embed]");
    for (var i = 0; i < frames.length; i++) {
      var frame = frames[i];
      if (frame.contentWindow !== event.source) continue;
      try {
        if (new URL(frame.src, location.href).origin !== event.origin) return;
      } catch (e) {
        return;
      }
      frame.style.height = height + "px";
      frame.setAttribute("height", String(height));
      return;
    }
  });
})();
`;
