// Interface strings, Chinese first (the default) and English. Keys are used by data-i18n attributes
// in the pages and by t() in the scripts.
window.I18N = {
  zh: {
    title: "生态分区选址筛查",
    nav_batch: "批量筛查", nav_ogc: "图层服务 (OGC)", nav_api: "API 文档",
    site: "项目场址",
    draw_hint: "在地图上绘制点、线或面，或上传文件，或输入坐标。",
    coords_label: "坐标（每行一个点：经度,纬度 或 X,Y；多点按顺序连成线或面）",
    geom_type: "几何类型", geom_auto: "自动", geom_line: "线", geom_polygon: "面",
    crs: "坐标系", radius: "点位半径（米，可选）",
    upload: "上传（GeoJSON、KML、Shapefile 压缩包）",
    project: "项目", project_type: "项目类型", no_type: "（不指定：列出区域管控要求）",
    phase: "建设性质", phase_new: "新建", phase_expansion: "扩建", phase_reconstruction: "改建",
    buffers: "缓冲带（米）", as_of: "评估日期",
    screen: "开始筛查", clear: "清除", result: "筛查结果",
    findings: "规则与依据", hits: "涉及区域", coverage_h: "数据覆盖",
    report: "打开报告（HTML）", layers: "图层",
    illustrative_note: "标注“示意”的图层由代码推导，并非官方边界。",
    verdict_prohibited: "禁止", verdict_restricted: "限制（需满足条件或审批）",
    verdict_caution: "注意", verdict_clear: "未发现冲突", verdict_insufficient_data: "数据不足",
    effect_prohibited: "禁止", effect_restricted: "限制", effect_caution: "注意",
    effect_permitted_exception: "允许的例外（需审批）",
    col_layer: "图层", col_name: "名称", col_class: "分区", col_relation: "关系",
    col_area: "重叠面积", col_ratio: "占比", col_length: "区内长度", col_distance: "距离",
    col_accuracy: "精度",
    rel_intersects: "相交", rel_within_buffer: "缓冲范围内", rel_contains_site: "所在单元",
    acc_illustrative: "示意", acc_approximate: "近似", acc_authoritative: "权威",
    site_area: "场址面积", site_length: "场址长度", centroid: "中心点",
    basis: "依据", conditions: "条件",
    need_site: "请先绘制、上传或输入场址。",
    screening: "正在筛查…",
    download: "下载", restricted: "受限",
    covered: "有数据", no_data: "无数据",
    governing: "决定性规则",
    batch_title: "批量筛查", batch_hint: "上传项目清单（CSV、XLSX、GeoJSON、GeoPackage、Shapefile 压缩包、KML），每行一个项目。",
    batch_start: "开始", batch_status: "状态", batch_download: "下载结果",
  },
  en: {
    title: "Ecological zoning site screening",
    nav_batch: "Batch screening", nav_ogc: "Layers (OGC API)", nav_api: "API docs",
    site: "Site",
    draw_hint: "Draw a point, line or polygon on the map, upload a file, or type coordinates.",
    coords_label: "Coordinates (one point per line: lon,lat or X,Y; several points form a line or polygon)",
    geom_type: "Geometry", geom_auto: "Auto", geom_line: "Line", geom_polygon: "Polygon",
    crs: "Coordinate system", radius: "Point radius (m, optional)",
    upload: "Upload (GeoJSON, KML, zipped Shapefile)",
    project: "Project", project_type: "Project type", no_type: "(none: list zone-level rules)",
    phase: "Phase", phase_new: "New", phase_expansion: "Expansion", phase_reconstruction: "Reconstruction",
    buffers: "Buffer bands (m)", as_of: "As of",
    screen: "Screen", clear: "Clear", result: "Result",
    findings: "Findings and legal basis", hits: "Zones touched", coverage_h: "Data coverage",
    report: "Open report (HTML)", layers: "Layers",
    illustrative_note: "Layers marked 'illustrative' are derived by code and are not official boundaries.",
    verdict_prohibited: "Prohibited", verdict_restricted: "Restricted (conditions or approval)",
    verdict_caution: "Caution", verdict_clear: "Clear", verdict_insufficient_data: "Insufficient data",
    effect_prohibited: "prohibited", effect_restricted: "restricted", effect_caution: "caution",
    effect_permitted_exception: "permitted exception (approval needed)",
    col_layer: "Layer", col_name: "Name", col_class: "Zone", col_relation: "Relation",
    col_area: "Overlap", col_ratio: "Share", col_length: "Length inside", col_distance: "Distance",
    col_accuracy: "Accuracy",
    rel_intersects: "intersects", rel_within_buffer: "within buffer", rel_contains_site: "contains site",
    acc_illustrative: "illustrative", acc_approximate: "approximate", acc_authoritative: "authoritative",
    site_area: "Site area", site_length: "Site length", centroid: "Centroid",
    basis: "Basis", conditions: "Conditions",
    need_site: "Draw, upload or type a site first.",
    screening: "Screening…",
    download: "download", restricted: "restricted",
    covered: "covered", no_data: "no data",
    governing: "Governing rule",
    batch_title: "Batch screening", batch_hint: "Upload a project list (CSV, XLSX, GeoJSON, GeoPackage, zipped Shapefile, KML), one project per row.",
    batch_start: "Start", batch_status: "Status", batch_download: "Download results",
  },
};
window.currentLang = localStorage.getItem("zoning-lang") || "zh";
window.t = (key) => (window.I18N[window.currentLang] || {})[key] || window.I18N.zh[key] || key;
window.applyI18n = () => {
  document.documentElement.lang = window.currentLang === "zh" ? "zh-CN" : "en";
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = window.t(el.dataset.i18n); });
  const toggle = document.getElementById("lang-toggle");
  if (toggle) toggle.textContent = window.currentLang === "zh" ? "English" : "中文";
  document.title = window.t("title");
};
document.addEventListener("DOMContentLoaded", () => {
  window.applyI18n();
  const toggle = document.getElementById("lang-toggle");
  if (toggle) toggle.addEventListener("click", () => {
    window.currentLang = window.currentLang === "zh" ? "en" : "zh";
    localStorage.setItem("zoning-lang", window.currentLang);
    window.applyI18n();
    document.dispatchEvent(new Event("langchange"));
  });
});
