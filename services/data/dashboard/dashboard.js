// The one-screen dashboard (docs/data.md "Dashboard"): a snapshot, then deltas over server-sent
// events; charts with uPlot (served from this service, no CDN); a freshness badge per panel.
(function () {
  'use strict';
  const $ = (id) => document.getElementById(id);
  const panelsEl = $('panels');
  const statusEl = $('status');
  const charts = new Map(); // "<panel>.<series>" -> uPlot
  const lastOccurred = new Map(); // panel id -> Date | null
  const params = new URLSearchParams(location.search);
  const scopeQuery = ['operator_id', 'project_id']
    .filter((k) => params.get(k))
    .map((k) => `${k}=${encodeURIComponent(params.get(k))}`)
    .join('&');
  let source;
  const CHART_HEIGHT = 120;

  function money(minor) {
    const v = BigInt(minor);
    const neg = v < 0n;
    const a = neg ? -v : v;
    const yuan = (a / 100n).toLocaleString('en-US');
    const fen = String(a % 100n).padStart(2, '0');
    return `${neg ? '-' : ''}¥${yuan}.${fen}`;
  }
  /** An integer in thousandths or hundredths as a decimal: 12345 Wh -> "12.345 kWh", 9876 bp -> "98.76 %". */
  function scaled(value, divisor, digits) {
    const v = BigInt(value);
    const a = v < 0n ? -v : v;
    const frac = String(a % divisor).padStart(digits, '0');
    return `${v < 0n ? '-' : ''}${(a / divisor).toLocaleString('en-US')}.${frac}`;
  }
  function show(value, unit) {
    if (unit === 'CNY') return money(value);
    if (unit === 'Wh') return `${scaled(value, 1000n, 3)} kWh`;
    if (unit === 'bp') return `${scaled(value, 100n, 2)} %`;
    return BigInt(value).toLocaleString('en-US') + (unit === 'points' ? ' pts' : '');
  }

  function badge(panelId) {
    const b = document.querySelector(`#panel-${panelId} .badge`);
    if (!b) return;
    const at = lastOccurred.get(panelId);
    if (!at) {
      b.textContent = 'no data yet';
      b.dataset.state = 'none';
      return;
    }
    const age = Math.max(0, Math.round((Date.now() - at.getTime()) / 1000));
    b.dataset.state = age < 60 ? 'fresh' : age < 900 ? 'stale' : 'old';
    b.textContent =
      age < 60
        ? `newest ${age} s ago`
        : age < 3600
          ? `newest ${Math.round(age / 60)} min ago`
          : `newest ${Math.round(age / 3600)} h ago`;
    b.title = `Newest fact behind this panel: ${at.toISOString()}`;
  }

  function el(tag, attrs, children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'text') e.textContent = v;
      else e.setAttribute(k, v);
    }
    for (const c of children || []) e.appendChild(c);
    return e;
  }

  function renderPanel(p) {
    const id = `panel-${p.panelId}`;
    let section = $(id);
    if (!section) {
      section = el('section', {
        id,
        class: 'panel',
        'aria-labelledby': `${id}-title`,
        'data-panel': p.panelId,
      });
      section.appendChild(
        el('h2', { id: `${id}-title` }, [
          el('span', { text: p.title }),
          el('span', { class: 'badge', role: 'status' }),
        ]),
      );
      section.appendChild(el('dl', { class: 'figures' }));
      panelsEl.appendChild(section);
    }
    // figures: one dd per figure, updated in place (aria-live announces the new value)
    const dl = section.querySelector('dl.figures');
    for (const f of p.figures) {
      let dd = dl.querySelector(`dd[data-figure="${CSS.escape(f.name)}"]`);
      if (!dd) {
        const dt = el('dt', { text: f.label });
        dd = el('dd', { 'data-figure': f.name, 'aria-live': 'polite', 'aria-atomic': 'true' });
        dl.appendChild(el('div', {}, [dt, dd]));
      }
      if (dd.dataset.value !== f.value) {
        dd.dataset.value = f.value;
        dd.textContent = show(f.value, f.unit);
      }
    }
    for (const s of p.series) renderSeries(section, p.panelId, s);
    lastOccurred.set(p.panelId, p.lastOccurredAt ? new Date(p.lastOccurredAt) : null);
    badge(p.panelId);
  }

  function renderSeries(section, panelId, s) {
    const key = `${panelId}.${s.name}`;
    const xs = s.points.map((x) => Date.parse(x.bucket) / 1000);
    const ys = s.points.map((x) => (s.unit === 'CNY' ? Number(BigInt(x.value)) / 100 : Number(x.value)));
    let box = section.querySelector(`[data-series="${CSS.escape(s.name)}"]`);
    if (!box) {
      const chart = el('div', {
        class: 'chart',
        role: 'img',
        'aria-label': `${s.label}, last 24 hours; the table below has the values`,
      });
      const table = el('table', {}, [
        el('caption', { text: s.label }),
        el('thead', {}, [
          el('tr', {}, [
            el('th', { scope: 'col', text: 'Hour (UTC)' }),
            el('th', { scope: 'col', text: s.unit === 'CNY' ? 'Yuan' : s.unit }),
          ]),
        ]),
        el('tbody'),
      ]);
      box = el('figure', { 'data-series': s.name, class: 'series' }, [
        chart,
        el('details', {}, [el('summary', { text: `${s.label}: table` }), table]),
      ]);
      section.appendChild(box);
    }
    const tbody = box.querySelector('tbody');
    tbody.replaceChildren(
      ...s.points.map((x) =>
        el('tr', {}, [el('td', { text: x.bucket.slice(11, 16) }), el('td', { text: show(x.value, s.unit) })]),
      ),
    );
    const chartEl = box.querySelector('.chart');
    let u = charts.get(key);
    if (!u && typeof uPlot === 'function') {
      u = new uPlot(
        {
          width: Math.max(280, chartEl.clientWidth || 380),
          height: CHART_HEIGHT,
          legend: { show: false },
          axes: [{ stroke: '#a9b6c4' }, { stroke: '#a9b6c4', size: 60 }],
          series: [{}, { label: s.label, stroke: '#4fc3f7', fill: 'rgba(79,195,247,0.2)', width: 2 }],
        },
        [xs, ys],
        chartEl,
      );
      charts.set(key, u);
      new ResizeObserver(() =>
        u.setSize({ width: Math.max(280, chartEl.clientWidth), height: CHART_HEIGHT }),
      ).observe(chartEl);
    } else if (u) {
      u.setData([xs, ys]);
    }
  }

  function signedIn(tenancy) {
    $('signin').hidden = true;
    panelsEl.hidden = false;
    $('logout').hidden = false;
    $('who').textContent = tenancy
      ? tenancy.city
        ? 'Signed in: the whole city'
        : `Signed in: operator ${(tenancy.operators || []).join(', ') || '-'}${(tenancy.projects || []).length ? `, projects ${tenancy.projects.join(', ')}` : ''}`
      : 'Signed in';
  }
  function signedOut(message) {
    if (source) source.close();
    source = undefined;
    $('signin').hidden = false;
    panelsEl.hidden = true;
    $('logout').hidden = true;
    $('who').textContent = 'Not signed in';
    statusEl.textContent = message || '';
  }

  async function start() {
    const session = await fetch('/dashboard/session', { credentials: 'same-origin' }).then((r) => r.json());
    if (!session.signed_in) return signedOut('');
    const res = await fetch(`/dashboard/snapshot${scopeQuery ? `?${scopeQuery}` : ''}`, {
      credentials: 'same-origin',
    });
    if (res.status === 401) return signedOut('');
    if (!res.ok) return signedOut(`The dashboard is unavailable (${res.status}).`);
    const snap = await res.json();
    signedIn(snap.tenancy);
    snap.panels.forEach(renderPanel);
    connect();
  }

  function connect() {
    if (source) source.close();
    source = new EventSource(`/dashboard/events${scopeQuery ? `?${scopeQuery}` : ''}`);
    source.addEventListener('open', () => {
      statusEl.textContent = 'Live';
      document.body.dataset.live = 'true';
    });
    source.addEventListener('snapshot', (e) => {
      const snap = JSON.parse(e.data);
      snap.panels.forEach(renderPanel);
      document.body.dataset.version = e.lastEventId;
    });
    source.addEventListener('delta', (e) => {
      JSON.parse(e.data).panels.forEach(renderPanel);
      document.body.dataset.version = e.lastEventId;
    });
    source.addEventListener('expired', () => signedOut('Your session expired: sign in again.'));
    source.addEventListener('error', () => {
      document.body.dataset.live = 'false';
      if (source && source.readyState === EventSource.CLOSED) {
        statusEl.textContent = 'Disconnected; checking the session…';
        setTimeout(() => start().catch(() => setTimeout(connect, 3000)), 2000);
      } else statusEl.textContent = 'Reconnecting…';
    });
  }

  $('signin-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    $('signin-error').textContent = '';
    const body = { client_id: $('client-id').value.trim(), client_secret: $('client-secret').value };
    const res = await fetch('/dashboard/session', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      credentials: 'same-origin',
    });
    if (!res.ok) {
      const err = await res.json().catch(() => ({}));
      $('signin-error').textContent = `Sign-in refused: ${err.error || res.status}`;
      return;
    }
    $('client-secret').value = '';
    await start();
  });
  $('logout').addEventListener('click', async () => {
    await fetch('/dashboard/logout', { method: 'POST', credentials: 'same-origin' });
    signedOut('Signed out.');
  });
  setInterval(() => lastOccurred.forEach((_, id) => badge(id)), 1000);
  start().catch((err) => signedOut(`The dashboard is unavailable: ${err.message}`));
})();
