// Batch upload page: POST /v1/batch, then poll GET /v1/batch/{id} and offer the result downloads.
"use strict";
const $ = (id) => document.getElementById(id);

async function loadTypes() {
  const response = await fetch("/v1/project-types");
  if (!response.ok) return;
  const data = await response.json();
  for (const pt of data.types || data.project_types || data) {
    const option = document.createElement("option");
    option.value = pt.id;
    option.textContent = `${pt.zh || pt.id} · ${pt.en || ""}`;
    $("project_type").appendChild(option);
  }
}

async function poll(jobId) {
  const response = await fetch(`/v1/batch/${jobId}`);
  const job = await response.json();
  $("job-status").textContent = job.status;
  const total = job.rows_total || 0;
  const done = job.rows_done || 0;
  $("job-rows").textContent = `${done} / ${total || "?"} · errors: ${job.error_rows ?? job.errors ?? 0}`;
  $("job-bar").style.width = total ? `${Math.round((100 * done) / total)}%` : "5%";
  if (job.status === "completed") {
    $("job-bar").style.width = "100%";
    $("job-links").innerHTML = ["xlsx", "csv", "geojson", "gpkg"]
      .map((f) => `<a href="/v1/batch/${jobId}/result?format=${f}">${t("batch_download")} (${f.toUpperCase()})</a>`).join("");
    return;
  }
  if (job.status === "failed") { $("error").hidden = false; $("error").textContent = job.error || "failed"; return; }
  setTimeout(() => poll(jobId), 800);
}

$("batch-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("error").hidden = true;
  const form = new FormData($("batch-form"));
  for (const [key, value] of [...form.entries()]) if (value === "") form.delete(key);
  const response = await fetch("/v1/batch", { method: "POST", body: form });
  const body = await response.json().catch(() => ({}));
  if (response.status !== 202) {
    $("error").hidden = false;
    $("error").textContent = `${body.detail || response.statusText}${body.field ? ` [${body.field}]` : ""}`;
    return;
  }
  $("job").hidden = false;
  poll(body.job_id);
});
loadTypes();
