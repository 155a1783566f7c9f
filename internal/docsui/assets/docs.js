// Starts Swagger UI on the /docs page. It is a file of its own, not an
// inline <script>, so that the page's Content-Security-Policy can say
// script-src 'self' without 'unsafe-inline'.
"use strict";

window.addEventListener("DOMContentLoaded", function () {
  var root = document.getElementById("swagger-ui");
  var ui = SwaggerUIBundle({
    // The OpenAPI document, relative to this page, so that a proxy that
    // serves gatehouse under a path prefix keeps working.
    url: new URL(root.dataset.openapiUrl, document.baseURI).href,
    domNode: root,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    deepLinking: true,
    displayRequestDuration: true,
    // No call to the public validator at validator.swagger.io: the page
    // works offline, and the CSP allows only this origin anyway.
    validatorUrl: null,
    // Configuration never comes from the page's query string (?url=...
    // would point the page at another document).
    queryConfigEnabled: false,
    // Tokens stay in this page's memory, never in localStorage, where any
    // script of the origin could read them after the tab is closed.
    persistAuthorization: false,
  });
  // Authorize (OAuth2 password grant) sends gatehouse's public client ID;
  // there is no client secret (RFC 6749 §2.1, public client).
  ui.initOAuth({ clientId: root.dataset.clientId, scopeSeparator: " " });
  window.ui = ui;
});
