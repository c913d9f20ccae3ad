/* leadkit embed.js: the order form inside any page, even on another domain (a prelanding).
 *
 *   <div data-leadkit-form></div>
 *   <script src="https://landing.example/leadkit/embed.js" async></script>
 *
 * Each element with data-leadkit-form (else a new one after this script) gets the order form,
 * fetched from the site that served this script with the tags of the page's own URL, and the
 * form is sent with fetch(): the landing's site.allowed_origins must list this page's origin.
 * Errors appear beside their fields with what was typed kept; success leaves for the network's
 * autologin page or the thank-you page. Every text is set as text, never as HTML, except the
 * form itself, which comes from the leadkit server, escaped there. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !window.fetch || !window.URLSearchParams) { return; }
  var base = new URL(script.src, location.href);
  var root = base.href.replace(/\/embed\.js(?:[?#].*)?$/, "");
  var FAILED = "We could not reach the order service. Please check your connection and try again.";

  function targets() {
    var found = document.querySelectorAll("[data-leadkit-form]");
    if (found.length) { return Array.prototype.slice.call(found); }
    var box = document.createElement("div");
    box.setAttribute("data-leadkit-form", "");
    script.parentNode.insertBefore(box, script.nextSibling);
    return [box];
  }

  function absolute(url) {
    var resolved = new URL(url, base);
    return /^https?:$/.test(resolved.protocol) ? resolved.href : null;
  }

  function clear(form) {
    Array.prototype.forEach.call(form.querySelectorAll(".lk-error, .lk-message"), function (node) {
      node.parentNode.removeChild(node);
    });
    Array.prototype.forEach.call(form.querySelectorAll(".lk-field--error"), function (field) {
      field.classList.remove("lk-field--error");
    });
    Array.prototype.forEach.call(form.querySelectorAll("[aria-invalid]"), function (input) {
      input.removeAttribute("aria-invalid");
      input.removeAttribute("aria-describedby");
    });
  }

  function showMessage(form, text) {
    var box = document.createElement("div");
    box.className = "lk-message lk-message--error";
    box.setAttribute("role", "alert");
    box.textContent = text;
    var title = form.querySelector(".lk-title");
    form.insertBefore(box, title ? title.nextSibling : form.firstChild);
  }

  function showErrors(form, errors) {
    var first = null;
    Object.keys(errors).forEach(function (name) {
      var input = form.elements.namedItem(name);
      if (!input || !input.id) { return; }
      var error = document.createElement("p");
      error.className = "lk-error";
      error.id = input.id + "-error";
      error.textContent = errors[name];
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", error.id);
      input.parentNode.classList.add("lk-field--error");
      input.parentNode.insertBefore(error, input.nextSibling);
      first = first || input;
    });
    if (first) { first.focus(); }
  }

  function send(form, button, event) {
    event.preventDefault();
    if (button.disabled) { return; }  // a double click sends once
    button.disabled = true;
    fetch(form.action, {
      method: "POST",
      body: new URLSearchParams(new FormData(form)),
      headers: {"Accept": "application/json"},
      credentials: "include"
    }).then(function (response) {
      return response.json();
    }).then(function (answer) {
      var next = answer.status === "ok" && answer.redirect ? absolute(answer.redirect) : null;
      if (next) { location.assign(next); return; }
      clear(form);
      if (answer.message) { showMessage(form, answer.message); }
      showErrors(form, answer.errors || {});
      button.disabled = false;
    }).catch(function () {
      clear(form);
      showMessage(form, FAILED);
      button.disabled = false;
    });
  }

  function mount(box) {
    fetch(root + "/form" + location.search, {headers: {"Accept": "application/json"}, credentials: "include"})
      .then(function (response) { return response.json(); })
      .then(function (answer) {
        if (answer.status !== "ok" || typeof answer.html !== "string") { throw new Error("no form"); }
        box.innerHTML = answer.html;
        var form = box.querySelector("form.lk-form");
        form.action = absolute(form.getAttribute("action"));
        var button = form.querySelector("[type=submit]");
        form.addEventListener("submit", function (event) { send(form, button, event); });
      })
      .catch(function () { box.textContent = FAILED; });
  }

  targets().forEach(mount);
}());
