// The web map: draw / upload / type a site, pick a project type, screen it, and read the verdict,
// the findings with their basis and the hits table. Layers come from the service's own OGC API,
// so no internet basemap is needed; a tile URL can be configured on the server (ZONING_TILE_URL).
"use strict";

const KIND_STYLE = {
  admin: { color: "#555", weight: 1, fill: false, dashArray: "4 3" },
  security_pattern: { color: "#7b6f2a", fillColor: "#e8dc9a", fillOpacity: 0.25, weight: 1 },
  ecological_corridor: { color: "#3d8f5a", fillColor: "#9fd8b0", fillOpacity: 0.3, weight: 1 },
  national_park: { color: "#1b7a34", fillColor: "#4caf50", fillOpacity: 0.3, weight: 1 },
  nature_reserve: { color: "#2e6b1f", fillColor: "#8bc34a", fillOpacity: 0.35, weight: 1 },
  natural_park: { color: "#2e6b1f", fillColor: "#c5e1a5", fillOpacity: 0.3, weight: 1 },
  ecological_red_line: { color: "#c62828", fillColor: "#ef5350", fillOpacity: 0.25, weight: 1 },
  general_ecological_space: { color: "#9e7b5a", fillColor: "#d7ccc8", fillOpacity: 0.2, weight: 1 },
  control_unit: { color: "#6a1b9a", fillColor: "#ce93d8", fillOpacity: 0.15, weight: 1 },
  drinking_water_source: { color: "#0277bd", fillColor: "#4fc3f7", fillOpacity: 0.4, weight: 1 },
  river: { color: "#1565c0", weight: 2 },
  lake: { color: "#1565c0", fillColor: "#90caf9", fillOpacity: 0.6, weight: 1 },
  river_basin: { color: "#0d47a1", fill: false, weight: 1.5, dashArray: "6 4" },
  urban_space: { color: "#616161", fillColor: "#bdbdbd", fillOpacity: 0.5, weight: 1 },
  industrial_park: { color: "#e65100", fillColor: "#ffb74d", fillOpacity: 0.5, weight: 1 },
  glacier: { color: "#4dd0e1", fillColor: "#e0f7fa", fillOpacity: 0.6, weight: 1 },
  sandy_land: { color: "#c0a060", fillColor: "#f3e5ab", fillOpacity: 0.4, weight: 1 },
  mining_rectification: { color: "#3e2723", fillColor: "#8d6e63", fillOpacity: 0.4, weight: 1 },
};
const DEFAULT_ON = new Set(["admin:province", "national_park", "nature_reserve", "ecological_red_line", "river", "lake"]);
const HIGHLIGHT = { color: "#ff1744", weight: 3, fillOpacity: 0.55 };

const state = { layers: [], leaflet: {}, siteLayer: null, uploaded: null, lastResult: null };
const $ = (id) => document.getElementById(id);
const fmt = (n, digits = 0) => (n === null || n === undefined ? "—" : Number(n).toLocaleString(undefined, { maximumFractionDigits: digits }));

const map = L.map("map", { preferCanvas: true, zoomControl: true }).setView([35.8, 97.5], 5);
L.control.scale({ imperial: false }).addTo(map);
const drawn = new L.FeatureGroup().addTo(map);
map.addControl(new L.Control.Draw({
  draw: { circle: false, circlemarker: false, rectangle: true, polygon: { allowIntersection: false }, polyline: true, marker: true },
  edit: { featureGroup: drawn },
}));
map.on(L.Draw.Event.CREATED, (event) => {
  drawn.clearLayers();
  drawn.addLayer(event.layer);
  state.uploaded = null;
  $("coords").value = "";
  $("crs").value = "EPSG:4326";
});

async function getJSON(url, options) {
  const response = await fetch(url, options);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const field = body.field ? ` [${body.field}]` : "";
    const hint = body.hint ? ` — ${body.hint}` : "";
    throw new Error(`${body.detail || response.statusText}${field}${hint}`);
  }
  return body;
}

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = !message;
}

async function loadConfig() {
  try {
    const config = await getJSON("/web-config.json");
    if (config.tile_url) L.tileLayer(config.tile_url, { attribution: config.tile_attribution || "" }).addTo(map).bringToBack();
  } catch (err) { /* optional */ }
}

function layerLabel(entry) {
  const acc = entry.accuracy === "illustrative" ? `（${t("acc_illustrative")}）` : "";
  return `${entry.title}${acc}`;
}

async function loadLayers() {
  const catalog = await getJSON("/v1/layers");
  state.layers = catalog.layers || catalog;
  const list = $("layer-list");
  list.innerHTML = "";
  for (const entry of state.layers) {
    if (entry.geometry_type === "raster") continue;
    const item = document.createElement("li");
    const style = KIND_STYLE[entry.kind] || { color: "#333" };
    const swatch = `<span class="swatch" style="background:${style.fillColor || "transparent"};border-color:${style.color}"></span>`;
    const restricted = entry.access === "restricted";
    item.innerHTML = `<label><input type="checkbox" data-layer="${entry.id}" ${restricted ? "disabled" : ""}>${swatch}${layerLabel(entry)}</label>
      <span class="meta">${entry.region} · ${entry.feature_count} · ${restricted ? t("restricted") : `<a href="/v1/layers/${entry.id}/download?format=geojson">GeoJSON</a> <a href="/v1/layers/${entry.id}/download?format=gpkg">GPKG</a> <a href="/v1/layers/${entry.id}/download?format=shp">SHP</a>`}</span>`;
    list.appendChild(item);
    const box = item.querySelector("input");
    box.addEventListener("change", () => toggleLayer(entry, box.checked));
    const key = entry.kind === "admin" ? `admin:${(entry.id.match(/province|prefecture|county/) || [""])[0]}` : entry.kind;
    if (!restricted && DEFAULT_ON.has(key)) { box.checked = true; toggleLayer(entry, true); }
  }
}

async function ensureLayer(entry) {
  if (state.leaflet[entry.id]) return state.leaflet[entry.id];
  const data = await getJSON(`/ogc/collections/${entry.id}/items?f=json&limit=10000`);
  const style = KIND_STYLE[entry.kind] || { color: "#333", weight: 1 };
  const layer = L.geoJSON(data, {
    style: () => ({ ...style }),
    pointToLayer: (feature, latlng) => L.circleMarker(latlng, { radius: 4, ...style }),
    onEachFeature: (feature, lyr) => {
      const p = feature.properties || {};
      lyr.bindTooltip(`${entry.title}: ${p.name || feature.id}${p.zone_class ? ` (${p.zone_class})` : ""}`, { sticky: true });
    },
  });
  layer._entry = entry;
  state.leaflet[entry.id] = layer;
  return layer;
}

async function toggleLayer(entry, on) {
  try {
    const layer = await ensureLayer(entry);
    if (on) layer.addTo(map); else map.removeLayer(layer);
  } catch (err) { showError(`${entry.id}: ${err.message}`); }
}

async function loadProjectTypes() {
  try {
    const data = await getJSON("/v1/project-types");
    const types = data.types || data.project_types || data;
    const select = $("project-type");
    for (const pt of types) {
      const option = document.createElement("option");
      option.value = pt.id;
      option.textContent = `${pt.zh || pt.id} · ${pt.en || ""}`;
      select.appendChild(option);
    }
  } catch (err) { showError(err.message); }
}

function parseTyped() {
  const text = $("coords").value.trim();
  if (!text) return null;
  const points = text.split(/[\n;]+/).map((line) => line.trim()).filter(Boolean).map((line) => {
    const parts = line.split(/[\s,，]+/).filter(Boolean).map(Number);
    if (parts.length < 2 || parts.some((v) => !Number.isFinite(v))) throw new Error(`${t("coords_label")}: "${line}"`);
    return parts.slice(0, 2);
  });
  if (points.length === 1) return { type: "Point", coordinates: points[0] };
  const kind = $("coord-geom").value;
  if (kind === "LineString" || (kind === "auto" && points.length === 2)) return { type: "LineString", coordinates: points };
  const ring = points.slice();
  const [first, last] = [ring[0], ring[ring.length - 1]];
  if (first[0] !== last[0] || first[1] !== last[1]) ring.push(first);
  return { type: "Polygon", coordinates: [ring] };
}

function currentSite() {
  const typed = parseTyped();
  if (typed) return { geometry: typed, crs: $("crs").value };
  if (state.uploaded) return { geometry: state.uploaded, crs: "EPSG:4326" };
  const layers = drawn.getLayers();
  if (!layers.length) return null;
  return { geometry: layers[0].toGeoJSON().geometry, crs: "EPSG:4326" };
}

$("upload").addEventListener("change", async (event) => {
  const file = event.target.files[0];
  if (!file) return;
  const form = new FormData();
  form.append("file", file);
  try {
    showError("");
    const parsed = await getJSON("/v1/sites/parse", { method: "POST", body: form });
    state.uploaded = parsed.geometry;
    drawn.clearLayers();
    const layer = L.geoJSON(parsed.geometry);
    drawn.addLayer(layer);
    map.fitBounds(layer.getBounds(), { maxZoom: 12 });
    $("coords").value = "";
  } catch (err) { showError(err.message); }
});

async function screen() {
  showError("");
  let site;
  try { site = currentSite(); } catch (err) { showError(err.message); return; }
  if (!site) { showError(t("need_site")); return; }
  const body = { geometry: site.geometry, crs: site.crs };
  const radius = Number($("radius").value);
  if (site.geometry.type === "Point" && radius > 0) body.radius_m = radius;
  const type = $("project-type").value;
  if (type) body.project = { type, phase: $("phase").value };
  const buffers = $("buffers").value.split(/[,，\s]+/).filter(Boolean).map(Number);
  if (buffers.length) body.buffers_m = buffers;
  if ($("as-of").value) body.as_of = $("as-of").value;
  const button = $("screen-btn");
  button.disabled = true;
  button.textContent = t("screening");
  try {
    const result = await getJSON("/v1/screen", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    state.lastResult = result;
    await renderResult(result);
  } catch (err) {
    showError(err.message);
  } finally {
    button.disabled = false;
    button.textContent = t("screen");
  }
}

function relationText(hit) { return t(`rel_${hit.relation}`); }

async function renderResult(result) {
  $("result").hidden = false;
  const verdict = $("verdict");
  verdict.className = `verdict verdict-${result.verdict}`;
  verdict.textContent = t(`verdict_${result.verdict}`);
  verdict.dataset.verdict = result.verdict;
  $("governing").textContent = result.governing ? `${t("governing")}: ${result.governing.rule_id || "—"} — ${result.governing.why}` : "";
  const s = result.site;
  const size = s.area_m2 > 0
    ? `${t("site_area")}: ${fmt(s.area_m2)} m² · ${fmt(s.area_ha, 2)} ha · ${fmt(s.area_mu, 1)} 亩`
    : s.length_m ? `${t("site_length")}: ${fmt(s.length_m)} m` : "";
  $("site-summary").textContent = `${s.type} · ${size} · ${t("centroid")}: ${s.centroid.map((v) => v.toFixed(5)).join(", ")} · ${s.input_crs}`;
  $("warnings").innerHTML = (s.warnings || []).map((w) => `<div class="warning">⚠ ${w}</div>`).join("");

  const findings = $("findings");
  findings.innerHTML = "";
  for (const f of result.findings) {
    const li = document.createElement("li");
    li.className = `finding effect-${f.effect}`;
    const title = window.currentLang === "zh" ? f.title_zh : f.title;
    const explanation = window.currentLang === "zh" && f.explanation_zh ? f.explanation_zh : f.explanation;
    const basis = (f.basis || []).map((b) => [b.document, b.article, b.seed_ref].filter(Boolean).join(" ")).join("；");
    const conditions = (f.conditions || []).length ? `<div class="conditions">${t("conditions")}: ${f.conditions.join("；")}</div>` : "";
    li.innerHTML = `<span class="effect">${t(`effect_${f.effect}`)}</span> <strong>${title}</strong> <code>${f.rule_id}</code>
      <div>${explanation}</div>${conditions}<div class="basis">${t("basis")}: ${basis}</div>`;
    findings.appendChild(li);
  }

  const head = $("hits").querySelector("thead");
  head.innerHTML = `<tr><th>${t("col_layer")}</th><th>${t("col_name")}</th><th>${t("col_class")}</th><th>${t("col_relation")}</th>
    <th>${t("col_area")} (m² / ha / 亩)</th><th>${t("col_ratio")}</th><th>${t("col_length")}</th><th>${t("col_distance")}</th><th>${t("col_accuracy")}</th></tr>`;
  const body = $("hits").querySelector("tbody");
  body.innerHTML = "";
  const titles = Object.fromEntries(state.layers.map((e) => [e.id, e.title]));
  for (const h of result.hits) {
    const tr = document.createElement("tr");
    const area = h.overlap_area_m2 ? `${fmt(h.overlap_area_m2)} / ${fmt(h.overlap_area_m2 / 1e4, 2)} / ${fmt(h.overlap_area_m2 / 1e4 * 15, 1)}` : "—";
    const ratio = h.overlap_ratio !== null && h.overlap_ratio !== undefined ? `${(h.overlap_ratio * 100).toFixed(1)}%` : h.share ? `${(h.share * 100).toFixed(1)}%` : "—";
    tr.innerHTML = `<td>${titles[h.layer] || h.layer}</td><td>${h.name || h.feature_id}</td><td>${h.zone_class || ""}</td><td>${relationText(h)}</td>
      <td>${area}</td><td>${ratio}</td><td>${h.length_inside_m ? fmt(h.length_inside_m) + " m" : "—"}</td><td>${fmt(h.distance_m)} m</td><td>${t(`acc_${h.accuracy}`)}</td>`;
    body.appendChild(tr);
  }
  $("coverage").innerHTML = (result.coverage || []).filter((c) => c.status === "no_data")
    .map((c) => `<span class="badge nodata">${titles[c.layer] || c.layer}: ${t("no_data")}</span>`).join(" ") || `<span class="badge">${t("covered")}</span>`;
  $("report-link").href = `/v1/results/${result.result_id}/report?format=html`;
  $("report-pdf").href = `/v1/results/${result.result_id}/report?format=pdf`;
  $("json-link").href = `/v1/results/${result.result_id}`;

  if (result.site.geometry && !drawn.getLayers().length) {
    drawn.addLayer(L.geoJSON(result.site.geometry));
  }
  await highlight(result.hits);
  const bounds = drawn.getBounds();
  if (bounds.isValid()) map.fitBounds(bounds.pad(2), { maxZoom: 11 });
}

async function highlight(hits) {
  for (const layer of Object.values(state.leaflet)) layer.resetStyle && layer.resetStyle();
  const byLayer = {};
  for (const h of hits.filter((x) => x.relation === "intersects")) (byLayer[h.layer] ||= new Set()).add(String(h.feature_id));
  for (const [id, fids] of Object.entries(byLayer)) {
    const entry = state.layers.find((e) => e.id === id);
    if (!entry || entry.access === "restricted" || entry.kind === "admin" || entry.kind === "river_basin") continue;
    const layer = await ensureLayer(entry).catch(() => null);
    if (!layer) continue;
    if (!map.hasLayer(layer)) {
      layer.addTo(map);
      const box = document.querySelector(`input[data-layer="${id}"]`);
      if (box) box.checked = true;
    }
    layer.eachLayer((lyr) => {
      const fid = String(lyr.feature.id ?? lyr.feature.properties.feature_id);
      if (fids.has(fid) && lyr.setStyle) { lyr.setStyle(HIGHLIGHT); lyr.bringToFront && lyr.bringToFront(); }
    });
  }
}

$("screen-btn").addEventListener("click", screen);
$("clear-btn").addEventListener("click", () => {
  drawn.clearLayers(); state.uploaded = null; $("coords").value = ""; $("result").hidden = true; showError("");
  for (const layer of Object.values(state.leaflet)) layer.resetStyle && layer.resetStyle();
});
document.addEventListener("langchange", () => { if (state.lastResult) renderResult(state.lastResult); });

loadConfig();
loadLayers().catch((err) => showError(err.message));
loadProjectTypes();
