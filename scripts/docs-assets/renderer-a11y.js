// Served beside the API reference renderer (scripts/build-docs.mjs), loaded by /docs before it.
// Scalar's request client (the "try it" dialog) has two faults in its own markup that no
// setting or stylesheet reaches (axe-core, test/e2e/docs.test.ts): its "More Information"
// buttons carry role="none" with an aria-label (a button's own role is what they need), and
// its key/value editors are role="combobox" without aria-expanded (required; their popup is
// closed until typed into, and the editor sets it then). Mended as the markup appears.
(() => {
  const mend = () => {
    for (const el of document.querySelectorAll('button[role="none"][aria-label]')) el.removeAttribute("role");
    for (const el of document.querySelectorAll('[role="combobox"]:not([aria-expanded])'))
      el.setAttribute("aria-expanded", "false");
  };
  new MutationObserver(mend).observe(document.documentElement, {
    subtree: true,
    childList: true,
    attributes: true,
    attributeFilter: ["role", "aria-expanded"],
  });
})();
