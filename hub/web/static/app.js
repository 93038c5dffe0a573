/* xiaoan web app: live updates over server-sent events, and the forms that call the hub's JSON API.
 * No framework and no build step: the page is rendered by the hub; this script only keeps it current
 * (refetching a section with ?part=NAME when the stream says it changed) and submits forms as JSON. */
(function () {
  "use strict";

  var body = document.body;
  var words = JSON.parse(body.getAttribute("data-words") || "{}");
  var csrf = body.getAttribute("data-csrf") || "";

  function word(key) { return words[key] || key; }

  // -- sections -------------------------------------------------------------------------------

  var pending = {};

  function partUrl(part) {
    var url = location.pathname + "?part=" + encodeURIComponent(part.getAttribute("data-part"));
    if (part.hasAttribute("data-query") && location.search.length > 1) {
      url += "&" + location.search.slice(1).replace(/(^|&)part=[^&]*/g, "");
    }
    return url;
  }

  function busy(part) {
    // Never replace a section while someone is typing in it: the refresh waits until they leave it.
    var active = document.activeElement;
    if (active && part.contains(active) && active !== document.body) { return true; }
    return part.querySelector("details[open]") !== null;
  }

  function refresh(part) {
    var name = part.getAttribute("data-part");
    if (busy(part)) { pending[name] = part; return; }
    delete pending[name];
    if (part.hasAttribute("data-reload")) { location.reload(); return; }  // a page that is one section
    fetch(partUrl(part), {credentials: "same-origin", headers: {"Accept": "text/html"}})
      .then(function (response) {
        if (response.status === 401 || response.redirected) { location.reload(); return null; }
        return response.ok ? response.text() : null;
      })
      .then(function (html) {
        if (html === null || html === undefined) { return; }
        // Someone may have started typing while the section was on its way: it waits until they leave.
        if (busy(part)) { pending[name] = part; return; }
        part.innerHTML = html;
        bind(part);
      })
      .catch(function () { pending[name] = part; });
  }

  var timers = {};

  function refreshFor(kind) {
    // Coalesce a burst of events (an incident changes several alerts) into one fetch per section.
    var parts = document.querySelectorAll("[data-part][data-refresh~='" + kind + "']");
    Array.prototype.forEach.call(parts, function (part) {
      var name = part.getAttribute("data-part");
      clearTimeout(timers[name]);
      timers[name] = setTimeout(function () { refresh(part); }, 250);
    });
  }

  function refreshAll() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-part]"), refresh);
  }

  document.addEventListener("focusout", function () {
    setTimeout(function () {
      Object.keys(pending).forEach(function (name) { refresh(pending[name]); });
    }, 300);
  });

  // -- live stream ----------------------------------------------------------------------------

  var live = document.getElementById("live");
  var offline = document.getElementById("offline");

  function setLive(state) {
    if (live) { live.setAttribute("data-state", state); live.title = word(state === "up" ? "live.connected" : "live.offline"); }
    if (offline) { offline.hidden = state === "up"; }
  }

  var STATE_ICONS = {ok: "✔", high: "▲", low: "▼", fault: "⚠", unknown: "?"};

  function onReading(data) {
    var tile = document.querySelector("[data-sensor='" + CSS.escape(data.sensor) + "']");
    if (!tile) { return; }
    var value = tile.querySelector("[data-value]");
    if (value) { value.textContent = data.fault || data.value === null ? "—" : Number(data.value).toFixed(1); }
    tile.className = tile.className.replace(/\brs-\w+/g, "").trim() + " rs-" + data.state;
    var state = tile.querySelector("[data-state]");
    if (state) {
      state.innerHTML = "";
      var badge = document.createElement("span");
      badge.className = "badge rs-" + data.state;
      badge.textContent = (STATE_ICONS[data.state] || "") + " " + word("state." + data.state);
      state.appendChild(badge);
    }
    var time = tile.querySelector("[data-time]");
    if (time) { time.textContent = hm(data.ts); }
  }

  // -- times: always the school's zone (data-tz), never the browser's ---------------------------

  var clock = null;
  try {
    clock = new Intl.DateTimeFormat("en-GB", {timeZone: body.getAttribute("data-tz") || undefined,
                                              hour: "2-digit", minute: "2-digit", hourCycle: "h23"});
  } catch (ignored) { clock = null; }

  function hm(ts) {
    var at = new Date(ts * 1000);
    if (clock) { return clock.format(at); }
    return ("0" + at.getHours()).slice(-2) + ":" + ("0" + at.getMinutes()).slice(-2);
  }

  // -- attention: an alarm arriving on an open page sounds, vibrates and marks the tab ---------------

  // What happened is counted where a test (or a curious admin) can read it: window.xiaoanAttention.
  var attention = window.xiaoanAttention = {arrived: 0, unseen: 0, beeps: 0, vibrations: 0, sound: false};
  var SOUND_KEY = "xiaoan_sound", NIGHT_KEY = "xiaoan_night";
  var baseTitle = document.title;
  var favicon = document.getElementById("favicon");
  var restIcon = favicon ? favicon.getAttribute("href") : null;
  var audio = null;
  var announced = {};

  function remembered(key) { try { return window.localStorage.getItem(key); } catch (ignored) { return null; } }
  function remember(key, value) { try { window.localStorage.setItem(key, value); } catch (ignored) { /* private mode */ } }

  function audioContext() {
    // Browsers start audio only after a tap on the page: the switch, or any tap once it is on.
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) { return null; }
    if (!audio) { audio = new Context(); }
    if (audio.state === "suspended" && audio.resume) { audio.resume(); }
    return audio;
  }

  function beep() {
    attention.beeps += 1;
    body.setAttribute("data-beeps", String(attention.beeps));
    var context = audioContext();
    if (!context) { return; }
    [0, 0.35, 0.7].forEach(function (offset) {
      var tone = context.createOscillator(), gain = context.createGain();
      tone.type = "square";
      tone.frequency.value = 880;
      gain.gain.value = 0.25;
      tone.connect(gain);
      gain.connect(context.destination);
      tone.start(context.currentTime + offset);
      tone.stop(context.currentTime + offset + 0.2);
    });
  }

  function vibrate() {
    if (!navigator.vibrate) { return; }
    try { if (navigator.vibrate([300, 150, 300, 150, 300])) { attention.vibrations += 1; } } catch (ignored) { /* refused */ }
  }

  function mine(data) {
    // The gate house hears gate alarms; the canteen the rest; other views everything. Notices never sound.
    if (data.severity === "info") { return false; }
    var view = body.getAttribute("data-view");
    if (view === "gate") { return data.kind === "gate"; }
    if (view === "canteen") { return data.kind !== "gate"; }
    return true;
  }

  function alarmArrived(data) {
    if (data.state !== "firing" || announced[data.id] || !mine(data)) { return; }
    announced[data.id] = true;
    attention.arrived += 1;
    attention.unseen += 1;
    body.setAttribute("data-alarms", String(attention.arrived));
    document.title = "⚠ (" + attention.unseen + ") " + word("attention.title") + " · " + baseTitle;
    if (favicon) { favicon.setAttribute("href", favicon.getAttribute("data-alarm")); }
    if (attention.sound) { beep(); }
    vibrate();
  }

  function seen() {
    if (!attention.unseen) { return; }
    attention.unseen = 0;
    document.title = baseTitle;
    if (favicon && restIcon) { favicon.setAttribute("href", restIcon); }
  }

  function soundSwitch() {
    var button = document.querySelector("[data-sound]");
    if (!button) { return; }
    function show() {
      button.hidden = false;
      button.setAttribute("aria-pressed", attention.sound ? "true" : "false");
      button.textContent = "♪ " + word(attention.sound ? "attention.enabled" : "attention.enable");
    }
    attention.sound = remembered(SOUND_KEY) === "on";
    show();
    button.addEventListener("click", function () {
      attention.sound = !attention.sound;
      remember(SOUND_KEY, attention.sound ? "on" : "off");
      if (attention.sound) { beep(); }  // the tap unlocks audio, and the cook hears what it will sound like
      show();
    });
  }

  function nightSwitch() {
    var button = document.querySelector("[data-night]");
    if (!button) { return; }
    function apply(on) {
      body.classList.toggle("night", on);
      button.setAttribute("aria-pressed", on ? "true" : "false");
      button.textContent = (on ? "☀ " : "☾ ") + word(on ? "night.off" : "night.on");
    }
    apply(remembered(NIGHT_KEY) === "on");
    button.addEventListener("click", function () {
      var on = !body.classList.contains("night");
      remember(NIGHT_KEY, on ? "on" : "off");
      apply(on);
    });
  }

  document.addEventListener("pointerdown", function () {
    seen();
    if (attention.sound) { audioContext(); }
  });
  document.addEventListener("keydown", seen);
  document.addEventListener("visibilitychange", function () { if (document.hidden) { return; } setTimeout(seen, 5000); });

  function connect() {
    if (!window.EventSource || !body.getAttribute("data-user")) { return; }  // the sign-in page has no stream
    var source = new EventSource("/api/stream");
    source.onopen = function () {
      if (live && live.getAttribute("data-state") === "down") { refreshAll(); }  // catch up on what was missed
      setLive("up");
    };
    source.onerror = function () { setLive("down"); };
    source.addEventListener("reading", function (e) { onReading(JSON.parse(e.data)); });
    source.addEventListener("alert", function (e) {
      var data = JSON.parse(e.data);
      alarmArrived(data);
      var detail = document.querySelector("[data-reload]");
      if (detail) {
        var card = detail.querySelector("[data-alert='" + data.id + "']");
        // Another alarm, or this one already shown in this state (the page reloaded after its own action).
        if (!card || card.classList.contains("as-" + data.state)) { return; }
      }
      refreshFor("alert");
    });
    source.addEventListener("action", function (e) {
      var data = JSON.parse(e.data);
      var detail = document.querySelector("[data-reload]");
      if (detail && !detail.querySelector("[data-alert='" + data.id + "']")) { return; }  // another alarm's
      refreshFor("action");
    });
    source.addEventListener("limits", function () { refreshFor("limits"); });
    source.addEventListener("silences", function () { refreshFor("silences"); });
    source.addEventListener("door", function () { refreshFor("door"); });
    source.addEventListener("samples", function () { refreshFor("samples"); });
    source.addEventListener("reset", function () { source.close(); location.reload(); });
  }

  // -- forms ----------------------------------------------------------------------------------

  function number(value) {
    if (value === null || value === undefined || String(value).trim() === "") { return null; }
    var parsed = Number(value);
    return isNaN(parsed) ? value : parsed;
  }

  function fields(form) {
    var out = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.name === "csrf_token" || el.type === "file" || el.type === "submit" || el.type === "button") {
        return;
      }
      if ((el.type === "checkbox" || el.type === "radio") && !el.checked) { return; }
      if (el.name in out) {
        out[el.name] = [].concat(out[el.name], el.value);
      } else {
        out[el.name] = el.type === "checkbox" ? [el.value] : el.value;
      }
    });
    return out;
  }

  // Passwords made for a reset, by form: shown once in the form's result, kept nowhere else.
  var generated = typeof WeakMap === "function" ? new WeakMap() : null;

  function newPassword() {
    // 14 characters without look-alikes (0/O, 1/l/I): ≈ 80 bits, easy to read out over the phone.
    var alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    var bytes = new Uint8Array(14), out = "";
    window.crypto.getRandomValues(bytes);
    for (var i = 0; i < bytes.length; i++) { out += alphabet.charAt(bytes[i] % alphabet.length); }
    return out;
  }

  function requestKey() {
    // 16 hex digits: a retry of one entry carries its key, the next entry a new one.
    var bytes = new Uint8Array(8), out = "";
    window.crypto.getRandomValues(bytes);
    for (var i = 0; i < bytes.length; i++) { out += ("0" + bytes[i].toString(16)).slice(-2); }
    return out;
  }

  function epoch(local) {
    // A datetime-local field (the phone's time zone) as epoch seconds; empty: none.
    if (!local) { return null; }
    var at = new Date(local).getTime();
    return isNaN(at) ? local : at / 1000;
  }

  function list(value) {
    return String(value || "").split(/[,，、\s]+/).filter(function (item) { return item !== ""; });
  }

  function spans(text) {
    // "06:30–08:30、11:30–13:30" (any dash, any separator) as [{start, end}]; empty: none.
    return String(text || "").split(/[,，、;；\n]+/).map(function (item) { return item.trim(); })
      .filter(function (item) { return item !== ""; })
      .map(function (item) {
        var match = /^(\d{1,2}:\d{2})\s*[-–—~～至到]\s*(\d{1,2}:\d{2})$/.exec(item);
        if (!match) { throw new Error(word("defaults.bad_window") + ": " + item); }
        return {start: match[1].length === 4 ? "0" + match[1] : match[1],
                end: match[2].length === 4 ? "0" + match[2] : match[2]};
      });
  }

  function splitList(text) {
    // "正常、轻微异常, 严重异常" → ["正常", "轻微异常", "严重异常"]
    return String(text || "").split(/[、,，;；\n]+/).map(function (part) { return part.trim(); })
      .filter(function (part) { return part; });
  }

  var BUILDERS = {
    slip: function (f, form) {
      // From–to as times of the slip's day in the school's zone (data-offset: its UTC offset, minutes).
      var day = form.getAttribute("data-day").split("-").map(Number);
      var offset = Number(form.getAttribute("data-offset"));
      function at(hm) {
        var parts = String(hm).split(":").map(Number);
        return Date.UTC(day[0], day[1] - 1, day[2], parts[0], parts[1]) / 1000 - offset * 60;
      }
      return {pupil: f.pupil, class_name: f.class_name, reason: f.reason, start: at(f.start), until: at(f.until),
              returns: !!f.returns, collector: f.collector, request_key: f.request_key};
    },
    checklist: function (f, form) {
      // One answer per item row; the request id is the rendered form's, so a retry is stored once.
      var answers = [];
      Array.prototype.forEach.call(form.querySelectorAll("[data-item]"), function (row) {
        var checked = row.querySelector("input[type=radio]:checked");
        var value = row.querySelector("[name=value]"), text = row.querySelector("[name=text]");
        var note = row.querySelector("[name=note]");
        answers.push({item: row.getAttribute("data-item"), answer: checked ? checked.value : null,
                      value: value ? number(value.value) : null, text: text ? text.value : "",
                      note: note ? note.value.trim() : "", photos: []});
      });
      return {answers: answers, opened_at: Number(form.getAttribute("data-opened")),
              request_id: form.getAttribute("data-request"), period: form.getAttribute("data-period")};
    },
    refill: function (f, form) {
      // The one line sent back, filled again.
      return BUILDERS.checklist(f, form).answers[0];
    },
    "place-lines": function (f, form) {
      // Only this place's lines, with the scan the place's code opened.
      var lines = BUILDERS.checklist(f, form);
      return {scan: Number(form.getAttribute("data-scan")), answers: lines.answers, period: lines.period};
    },
    template: function (f, form) {
      // The item rows in the order they stand on the page; a new row gets a key of its own.
      var items = [];
      Array.prototype.forEach.call(form.querySelectorAll("[data-tpl-item]"), function (row, index) {
        function value(name) { var el = row.querySelector("[name=" + name + "]"); return el ? el.value.trim() : ""; }
        function ticked(name) { return !!row.querySelector("[name=" + name + "]:checked"); }
        var item = {key: row.getAttribute("data-tpl-item") || "item_" + Date.now().toString(36) + "_" + index,
                    text: value("item_text"), section: value("item_section"), kind: value("item_kind") || "yes_no",
                    unit: value("item_unit"), key_item: ticked("item_key_item"), photo: ticked("item_photo"),
                    place: value("item_place")};
        if (item.kind === "number") { item.low = number(value("item_low")); item.high = number(value("item_high")); }
        if (item.kind === "choice") {
          item.options = splitList(value("item_options"));
          item.fail_options = splitList(value("item_fail_options"));
        }
        if (value("item_auto")) { item.auto = value("item_auto"); }
        if (item.text) { items.push(item); }
      });
      return {name: String(f.name || "").trim(), cadence: f.cadence, days: f.days, due_by: f.due_by,
              role: f.role || null, place: String(f.place || "").trim(), items: items};
    },
    interim: function (f) {
      return {text: (f.text || "").trim(), steps: [].concat(f.steps || []), photos: []};
    },
    close: function (f) {
      var parts = [].concat(f.common || []);
      if (f.text && f.text.trim()) { parts.push(f.text.trim()); }
      return {text: parts.join("；")};
    },
    limits: function (f) {
      var delay = number(f.delay_min);
      return {low: number(f.low), high: number(f.high), hard_low: number(f.hard_low), hard_high: number(f.hard_high),
              delay_s: delay === null ? null : delay * 60, hysteresis: number(f.hysteresis), reason: f.reason || ""};
    },
    samples: function (f, form) {
      var dishes = [];
      Array.prototype.forEach.call(form.querySelectorAll(".dish"), function (row) {
        var name = row.querySelector("[name=dish_name]").value.trim();
        var short = row.querySelector("[name=dish_short]");
        if (name) {
          dishes.push({name: name, weight_g: number(row.querySelector("[name=dish_weight]").value),
                       short_reason: short ? short.value.trim() : ""});
        }
      });
      return {meal: f.meal, placed_by: f.placed_by, reviewer: f.reviewer || "", dishes: dishes};
    },
    silence: function (f) {
      return {subject: f.subject.trim(), rules: list(f.rules), starts_at: epoch(f.starts_at), ends_at: epoch(f.ends_at),
              window_start: f.window_start || null, window_end: f.window_end || null,
              weekdays: f.weekdays ? [].concat(f.weekdays).map(Number) : null, reason: f.reason || ""};
    },
    override: function (f) {
      var windows = f.window_start || f.window_end ? [{start: f.window_start, end: f.window_end}] : [];
      return {kind: f.kind, date: f.kind === "extra_window" ? null : (f.date || null), groups: [].concat(f.groups || []),
              windows: windows, days: f.days, reason: f.reason || ""};
    },
    suggestion: function (f) { return JSON.parse(f.override); },
    defaults: function (f) { return {windows: {school_day: spans(f.school_day), other_day: spans(f.other_day)}}; },
    defaults_confirm: function () { return {windows: null}; },
    remove: function () { return null; },
    portion: function (f) { return {add_g: number(f.add_g)}; },
    correct: function (f) {
      return {name: f.name && f.name.trim() ? f.name.trim() : null, weight_g: number(f.weight_g),
              short_reason: f.short_reason || "", reason: f.reason || ""};
    },
    channel: function (f) {
      var out = {kind: f.kind, label: (f.label || "").trim()};
      ["key", "token", "secret", "smtp_host", "security", "username", "password", "sender", "url", "port"]
        .forEach(function (key) { if (key in f) { out[key] = String(f[key]).trim(); } });
      if (f.smtp_port) { out.smtp_port = number(f.smtp_port); }
      if ("recipients" in f) { out.recipients = list(f.recipients); }
      if ("numbers" in f) { out.numbers = list(f.numbers); }
      return out;
    },
    setup_sensor: function (f) {
      return {name: (f.name || "").trim(), role: f.role, profile: f.profile || null, group: f.group || null,
              version: f.version ? Number(f.version) : null};
    },
    setup_calendar: function (f, form) {
      var terms = [];
      Array.prototype.forEach.call(form.querySelectorAll(".term"), function (row) {
        var start = row.querySelector("[name=term_start]").value, end = row.querySelector("[name=term_end]").value;
        if (start || end) {
          terms.push({name: row.querySelector("[name=term_name]").value.trim(), start: start, end: end});
        }
      });
      return {terms: terms, holidays: list(f.holidays), version: f.version ? Number(f.version) : null};
    },
    setup_group: function (f) {
      var grace = number(f.grace_min);
      return {school_day: spans(f.school_day), other_day: spans(f.other_day),
              close_grace_s: grace === null ? 600 : grace * 60, version: f.version ? Number(f.version) : null};
    },
    setup_national: function (f) {
      return {holidays: list(f.holidays), workdays: list(f.workdays), version: f.version ? Number(f.version) : null};
    },
    setup_checkpoint: function (f) {
      return {name: (f.name || "").trim(), tags: list(f.tags), sensors: list(f.sensors),
              version: f.version ? Number(f.version) : null};
    },
    setup_route: function (f) {
      return {name: (f.name || "").trim(), checkpoints: list(f.checkpoints), day_rounds: spans(f.day_rounds),
              night_rounds: spans(f.night_rounds), days: f.days, version: f.version ? Number(f.version) : null};
    },
    setup_units: function (f, form) {
      // One unit per row with both a probe and a door; a row left at "—" is how a unit is removed.
      var units = [];
      Array.prototype.forEach.call(form.querySelectorAll(".unit"), function (row) {
        var probe = row.querySelector("[name=unit_probe]").value, door = row.querySelector("[name=unit_door]").value;
        if (probe && door) { units.push({temperature: probe, door: door}); }
      });
      return {units: units, version: f.version ? Number(f.version) : null};
    },
    setup_adopt: function (f) { return {name: (f.name || "").trim(), version: f.version ? Number(f.version) : null}; },
    route: function (f) {
      return {always: [].concat(f.always || []),
              fallback: [].concat(f.fallback || []).filter(function (name) { return name !== ""; })};
    },
    rota: function (f, form) {
      // One shift per row; a row whose days are "—" is left out (that is how a shift is removed).
      var shifts = [];
      Array.prototype.forEach.call(form.querySelectorAll("[data-shift]"), function (row) {
        var when = row.querySelector("[name=when]").value;
        if (!when) { return; }
        var parts = when.split("/");
        var roles = Array.prototype.filter.call(row.querySelectorAll("[name=shift_role]"),
          function (box) { return box.checked; }).map(function (box) { return box.value; });
        shifts.push({days: list(parts[0]), when: parts[1] || null,
                     start: row.querySelector("[name=start]").value.trim() || "00:00",
                     end: row.querySelector("[name=end]").value.trim() || "24:00",
                     people: list(row.querySelector("[name=people]").value), roles: roles});
      });
      return {shifts: shifts};
    },
    reset: function (f, form) {
      var password = newPassword();
      if (generated) { generated.set(form, password); }
      return {new_password: password};
    },
    password: function (f) {
      if (f.new_password !== f.repeat_password) { throw new Error(word("account.mismatch")); }
      return {old_password: f.old_password, new_password: f.new_password};
    },
    user: function (f) {
      var out = {};
      Object.keys(f).forEach(function (key) {
        if (key === "disabled") { out.disabled = f.disabled === "true"; }
        else if (f[key] !== "") { out[key] = f[key]; }
      });
      return out;
    }
  };

  function explain(status, body) {
    var detail = body && body.detail !== undefined ? body.detail : body;
    if (Array.isArray(detail)) {
      return detail.map(function (d) { return (d.loc || []).slice(1).join(".") + ": " + d.msg; }).join("; ");
    }
    if (detail && typeof detail === "object") {
      return (detail.field ? detail.field + ": " : "") + (detail.message || JSON.stringify(detail));
    }
    if (status === 403 && !detail) { return word("common.forbidden"); }
    return String(detail || status);
  }

  function call(method, url, payload, isForm, token) {
    var headers = {"X-CSRF-Token": token || csrf, "Accept": "application/json"};
    if (!isForm) { headers["Content-Type"] = "application/json"; }
    return fetch(url, {method: method, credentials: "same-origin", headers: headers,
                       body: isForm ? payload : JSON.stringify(payload)})
      .then(function (response) {
        return response.text().then(function (text) {
          var parsed = null;
          try { parsed = text ? JSON.parse(text) : null; } catch (ignored) { parsed = text; }
          if (!response.ok) { throw new Error(explain(response.status, parsed)); }
          return parsed;
        });
      });
  }

  function show(form, text, ok) {
    var result = form.querySelector("[data-result]");
    if (!result) { return; }
    result.textContent = (ok ? "✔ " : "⚠ ") + text;
    result.className = "result " + (ok ? "ok" : "bad");
    result.setAttribute("role", ok ? "status" : "alert");
  }

  function submit(event) {
    var form = event.target;
    if (!form.matches || !form.matches("form[data-api]")) { return; }
    event.preventDefault();
    var kind = form.getAttribute("data-kind") || "";
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { return; }
    var f = fields(form);
    var payload;
    try {
      payload = BUILDERS[kind] ? BUILDERS[kind](f, form) : f;
    } catch (error) {
      show(form, error.message, false);
      return;
    }
    var token = form.elements.csrf_token ? form.elements.csrf_token.value : csrf;
    var method = form.getAttribute("data-method") || "POST";
    var button = form.querySelector("button[type=submit]");
    if (button) { button.disabled = true; }
    var first = Promise.resolve(null);
    var file = form.querySelector("input[type=file]");
    // A refill's payload is the one answer; a checklist's and a place's lines carry a list.
    function answerAt(index) { return payload.answers ? payload.answers[index] : payload; }
    if (kind === "checklist" || kind === "place-lines" || kind === "refill") {
      // Each item's photo first (taken in the page), then the checklist naming them.
      Array.prototype.forEach.call(form.querySelectorAll("[data-item]"), function (row, index) {
        var taken = row.querySelector("input[type=file]");
        var signed = row.querySelector("[data-signature] canvas[data-drawn]");
        if (signed) {
          // A signature drawn on the page goes up as a PNG, like a photo taken in the page.
          first = first.then(function () {
            return new Promise(function (resolve) { signed.toBlob(resolve, "image/png"); });
          }).then(function (blob) {
            var upload = new FormData();
            upload.append("photo", blob, "signature.png");
            return call("POST", "/api/checks/photos", upload, true, token);
          }).then(function (uploaded) { answerAt(index).photos.push(uploaded.name); return null; });
        }
        if (!taken || !taken.files || !taken.files.length) { return; }
        first = first.then(function () {
          var upload = new FormData();
          upload.append("photo", taken.files[0]);
          return call("POST", "/api/checks/photos", upload, true, token);
        }).then(function (uploaded) { answerAt(index).photos.push(uploaded.name); return null; });
      });
    } else if (kind === "hazard") {
      // The report first: its photo goes to the work order it opened.
      first = Promise.resolve(null);
    } else if (file && file.files && file.files.length) {
      var upload = new FormData();
      upload.append("photo", file.files[0]);
      first = call("POST", form.getAttribute("data-photos"), upload, true, token);
    }
    first
      .then(function (uploaded) {
        // An interim action names its photo; a corrective action's photo is kept with the alarm.
        if (kind === "interim" && uploaded && uploaded.name) { payload.photos.push(uploaded.name); }
        var url = form.getAttribute("data-api");
        // A form that names what it saves (a channel, a route) saves it under that name.
        var named = form.getAttribute("data-api-name");
        if (named) { url += encodeURIComponent(String(f[named] || "").trim()); }
        return call(method, url, payload, false, token);
      })
      .then(function (answer) {
        if (kind !== "hazard" || !file || !file.files || !file.files.length || !answer) { return answer; }
        var upload = new FormData();
        upload.append("photo", file.files[0]);
        return call("POST", "/api/workorders/" + answer.id + "/photos", upload, true, token)
          .then(function () { return answer; });
      })
      .then(function (answer) {
        var text = word("common.done");
        if (kind === "limits") { text = word(answer && answer.pending ? "limits.pending" : "limits.saved"); }
        if (kind === "samples") { text = word("canteen.logged"); form.reset(); }
        if (kind === "interim") { text = word("alert.recorded"); form.reset(); }
        if (kind === "password") { text = word("account.changed"); form.reset(); }
        if (kind === "reset" && generated && generated.has(form)) {
          text = word("admin.new_password").replace("{password}", generated.get(form));
          generated.delete(form);
        }
        if (kind === "enrol" && answer && answer.install_command) {
          // Shown once: the link in it works once, and only for 30 minutes; the password is not in it.
          var box = document.querySelector("[data-enrol]");
          box.querySelector("[data-enrol-command]").textContent = answer.install_command;
          box.querySelector("[data-enrol-qr]").src = answer.qr_data_url;
          box.hidden = false;
          if (form.getAttribute("data-api") === "/api/devices/enrolled") { form.reset(); }
        }
        if (kind === "test") {
          text = answer && answer.ok ? word("admin.test_sent") : "✕ " + (answer && answer.error);
          show(form, text, !!(answer && answer.ok));
        } else {
          show(form, text, true);
        }
        if (form.elements.request_key) {
          // A form that is not re-rendered after it is stored (the gate register's) gets a new key for the next entry.
          form.reset();
          form.elements.request_key.value = requestKey();
        }
        if (document.activeElement && form.contains(document.activeElement)) { document.activeElement.blur(); }
        var details = form.closest("details");
        if (details && kind !== "samples") { details.open = false; }
        if (kind === "template") { setTimeout(function () { location.reload(); }, 600); }
        if (kind !== "reset" && kind !== "password") { setTimeout(refreshAll, kind === "samples" ? 0 : 600); }
        // The channel lists are not a live section: a new channel appears (and its test button) on a fresh page.
        if (kind === "channel") { setTimeout(function () { window.location.reload(); }, 600); }
      })
      .catch(function (error) { show(form, error.message, false); })
      .then(function () { if (button) { button.disabled = false; } });
  }

  // -- small things ---------------------------------------------------------------------------

  function countdowns(root) {
    var template = words["common.remaining"] || "{time}";
    Array.prototype.forEach.call(root.querySelectorAll("[data-until]"), function (el) {
      var left = Math.max(0, Number(el.getAttribute("data-until")) - Date.now() / 1000);
      var hours = Math.floor(left / 3600), minutes = Math.floor((left % 3600) / 60);
      el.textContent = template.replace("{time}", hours + ":" + ("0" + minutes).slice(-2));
    });
  }

  function bind(root) {
    Array.prototype.forEach.call(root.querySelectorAll("[data-add-dish]"), function (button) {
      if (button.getAttribute("data-bound")) { return; }
      button.setAttribute("data-bound", "1");
      button.addEventListener("click", function () {
        var list = button.parentNode.querySelector("[data-dishes]");
        var row = list.querySelector(".dish").cloneNode(true);
        Array.prototype.forEach.call(row.querySelectorAll("input"), function (input) { input.value = ""; });
        list.appendChild(row);
      });
    });
    countdowns(root);
  }

  document.addEventListener("submit", submit);

  // A signature line: drawn with a finger (or the mouse) on its canvas; ✕ clears it.
  function signaturePoint(canvas, event) {
    var box = canvas.getBoundingClientRect();
    return {x: (event.clientX - box.left) * canvas.width / box.width,
            y: (event.clientY - box.top) * canvas.height / box.height};
  }
  document.addEventListener("pointerdown", function (event) {
    var canvas = event.target;
    if (!canvas.closest || !canvas.closest("[data-signature]") || canvas.tagName !== "CANVAS") { return; }
    event.preventDefault();
    var pen = canvas.getContext("2d"), at = signaturePoint(canvas, event);
    pen.lineWidth = 2.5; pen.lineCap = "round"; pen.strokeStyle = "#111";
    pen.beginPath(); pen.moveTo(at.x, at.y);
    function draw(move) {
      var to = signaturePoint(canvas, move);
      pen.lineTo(to.x, to.y); pen.stroke();
      canvas.setAttribute("data-drawn", "1");
    }
    function stop() {
      canvas.removeEventListener("pointermove", draw);
      document.removeEventListener("pointerup", stop);
    }
    canvas.addEventListener("pointermove", draw);
    document.addEventListener("pointerup", stop);
  });
  document.addEventListener("click", function (event) {
    var button = event.target && event.target.closest ? event.target.closest("[data-sign-clear]") : null;
    if (!button) { return; }
    var canvas = button.parentNode.querySelector("canvas");
    canvas.getContext("2d").clearRect(0, 0, canvas.width, canvas.height);
    canvas.removeAttribute("data-drawn");
  });

  // A template's item rows: move up or down, drop, add a blank one (saved only with the form).
  document.addEventListener("click", function (event) {
    var button = event.target && event.target.closest ? event.target.closest("[data-move],[data-add-item]") : null;
    if (!button) { return; }
    var list = button.closest("form").querySelector("[data-items]");
    if (button.hasAttribute("data-add-item")) {
      list.appendChild(document.querySelector("template[data-blank-item]").content.cloneNode(true));
      return;
    }
    var row = button.closest("[data-tpl-item]");
    var how = button.getAttribute("data-move");
    if (how === "up" && row.previousElementSibling) { list.insertBefore(row, row.previousElementSibling); }
    if (how === "down" && row.nextElementSibling) { list.insertBefore(row.nextElementSibling, row); }
    if (how === "drop") { row.remove(); }
  });
  soundSwitch();
  nightSwitch();
  bind(document);
  setInterval(function () { countdowns(document); }, 30000);
  connect();
}());
