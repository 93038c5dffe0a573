/* The guided probe check (校准探头): the probe's live reading and its average over the window beside the
   reference reading; the hub proposes the offset, the person confirms, the hub records it and sends it. */
(function () {
  "use strict";
  var card = document.querySelector("[data-calibrate]");
  if (!card) { return; }
  var body = document.body;
  var csrf = body.getAttribute("data-csrf") || "";
  var words = JSON.parse(body.getAttribute("data-words") || "{}");
  var base = "/api/calibration/" + card.getAttribute("data-calibrate");
  var form = card.querySelector("[data-calibration-form]");
  var method = form.querySelector("[data-method]");
  var reference = form.querySelector("[data-reference]");
  var proposeButton = form.querySelector("[data-propose]");
  var confirmButton = form.querySelector("[data-confirm]");
  var proposalText = form.querySelector("[data-proposal]");
  var recordedText = form.querySelector("[data-recorded]");
  var certificateForm = card.querySelector("[data-certificate-form]");
  var proposed = null;

  function word(key, values) {
    var text = words[key] || key;
    Object.keys(values || {}).forEach(function (name) { text = text.split("{" + name + "}").join(values[name]); });
    return text;
  }

  function fixed(value) { return value === null || value === undefined ? "—" : Number(value).toFixed(2); }

  function signed(value) { return (value >= 0 ? "+" : "") + Number(value).toFixed(2); }

  function call(verb, url, payload, isForm) {
    var headers = {"X-CSRF-Token": csrf, "Accept": "application/json"};
    if (payload && !isForm) { headers["Content-Type"] = "application/json"; }
    return fetch(url, {method: verb, credentials: "same-origin", headers: headers,
                       body: payload ? (isForm ? payload : JSON.stringify(payload)) : undefined})
      .then(function (response) {
        return response.json().catch(function () { return null; }).then(function (answer) {
          if (!response.ok) {
            var detail = answer && answer.detail;
            throw new Error(detail && detail.message ? detail.message : String(response.status));
          }
          return answer;
        });
      });
  }

  function show(target, text, ok) {
    target.textContent = (ok ? "✔ " : "⚠ ") + text;
    target.className = "result " + (ok ? "ok" : "bad");
  }

  function methodChanged() {
    var ice = method.value === "ice_point";
    form.querySelector("[data-certificate-no]").hidden = ice;
    if (ice) { reference.value = "0.0"; }
  }

  function refresh() {
    call("GET", base + "/live").then(function (live) {
      card.querySelector("[data-live-value]").textContent = fixed(live.latest);
      card.querySelector("[data-live-average]").textContent = live.complete ? fixed(live.average) : "—";
      card.querySelector("[data-collecting]").hidden = live.complete;
      proposeButton.disabled = !live.complete;
    }).catch(function () { /* the next round tries again */ });
  }

  function propose() {
    proposed = null;
    confirmButton.hidden = true;
    call("GET", base + "/proposal?reference=" + encodeURIComponent(reference.value)).then(function (answer) {
      proposed = answer;
      var text = word("calibration.proposal", {probe: fixed(answer.point.probe), reference: fixed(answer.point.reference),
                                               offset: signed(answer.offset)});
      var verdict = answer.passed ? word("calibration.pass", {tolerance: card.getAttribute("data-tolerance") || "0.5"})
                                  : word("calibration.fail", {reason: answer.reason});
      show(proposalText, text + " · " + verdict, answer.passed);
      confirmButton.hidden = false;
    }).catch(function (error) { show(proposalText, error.message, false); });
  }

  function confirm() {
    if (!proposed) { return; }
    confirmButton.disabled = true;
    var payload = {method: method.value, points: [proposed.point], note: form.elements.note.value,
                   certificate_no: method.value === "reference" ? form.elements.certificate_no.value : ""};
    call("POST", base + "/checks", payload).then(function (answer) {
      var key = answer.sent ? "calibration.sent" : (proposed.sendable ? "calibration.queued" : "calibration.not_sent");
      show(recordedText, word(key), answer.sent || proposed.sendable);
      certificateForm.hidden = false;
      certificateForm.setAttribute("data-check", String(answer.check.id));
      confirmButton.hidden = true;
    }).catch(function (error) { show(recordedText, error.message, false); })
      .then(function () { confirmButton.disabled = false; });
  }

  function upload(event) {
    event.preventDefault();
    var file = certificateForm.elements.certificate.files[0];
    if (!file) { return; }
    var data = new FormData();
    data.append("certificate", file);
    var target = certificateForm.querySelector("[data-uploaded]");
    call("POST", "/api/calibration/checks/" + certificateForm.getAttribute("data-check") + "/certificate", data, true)
      .then(function () { show(target, words["common.done"] || "OK", true); })
      .catch(function (error) { show(target, error.message, false); });
  }

  method.addEventListener("change", methodChanged);
  proposeButton.addEventListener("click", propose);
  confirmButton.addEventListener("click", confirm);
  certificateForm.addEventListener("submit", upload);
  methodChanged();
  refresh();
  setInterval(refresh, 2000);
}());
