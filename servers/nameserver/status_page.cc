#include "servers/nameserver/status_page.h"

#include <fmt/format.h>

#include "common/address.h"
#include "common/client/nameserver_client.h"
#include "servers/nameserver/nameserver.h"

namespace chainfs::nameserver {
namespace {

// A JSON string: quotes, backslashes and control characters escaped; bytes that are not
// valid UTF-8 (names are arbitrary bytes) become U+FFFD.
std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      out += fmt::format("\\u{:04x}", c);
    } else if (c < 0x80) {
      out += static_cast<char>(c);
    } else {
      const size_t len = c >= 0xf0 && c < 0xf5 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
      bool valid = len > 0 && len <= 4 && i + len <= s.size();
      for (size_t k = 1; valid && k < len; ++k) {
        valid = (static_cast<unsigned char>(s[i + k]) & 0xc0) == 0x80;
      }
      if (!valid) {
        out += "\\ufffd";
        ++i;
        continue;
      }
      out.append(s.substr(i, len));
      i += len;
      continue;
    }
    ++i;
  }
  out += '"';
  return out;
}

int64_t Millis(int64_t ns) { return ns / 1'000'000; }

}  // namespace

StatusView CollectStatus(NameServer& nameserver, int64_t now_wall_ns, LeaderPage* leader_page) {
  StatusView view;
  view.self = nameserver.election().address();
  view.is_leader = nameserver.election().is_leader();
  nameserver.ClusterStatus(v1::ClusterStatusRequest(), &view.cluster).IgnoreError();
  if (!view.is_leader && leader_page != nullptr) {
    view.leader_page = leader_page->For(view.cluster.leader());
  }
  view.dropped = nameserver.events().RecentlyDropped();
  view.events = nameserver.events().Recent();
  view.gc = nameserver.events().gc();
  view.replication = nameserver.settings().replication;
  view.heartbeat_interval_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                   nameserver.settings().heartbeat_interval)
                                   .count();
  view.now_wall_ns = now_wall_ns;
  return view;
}

std::string LeaderPage::For(const std::string& leader) {
  if (leader.empty()) return "";
  {
    std::lock_guard lock(mu_);
    if (leader == leader_) return url_;
  }
  NameServerClientSettings settings;
  settings.call_timeout = timeout_;
  settings.attempt_timeout = timeout_;
  absl::StatusOr<v1::ClusterStatusReply> status =
      NameServerClient(leader, settings).ClusterStatus(v1::ClusterStatusRequest());
  if (!status.ok() || status->metrics_address().empty()) return "";
  auto metrics = SplitHostPort(status->metrics_address());
  auto grpc = SplitHostPort(leader);
  if (!metrics.ok() || !grpc.ok()) return "";
  std::string host = metrics->first;
  if (host.empty() || host == "0.0.0.0" || host == "::" || host == "[::]") host = grpc->first;
  if (host.find(':') != std::string::npos && host.front() != '[') host = "[" + host + "]";
  std::string url = fmt::format("http://{}:{}/", host, metrics->second);
  std::lock_guard lock(mu_);
  leader_ = leader;
  url_ = url;
  return url;
}

std::string StatusJson(const StatusView& view) {
  const v1::ClusterStatusReply& c = view.cluster;
  std::string out = fmt::format(
      "{{\"self\":{},\"is_leader\":{},\"leader\":{},\"leader_page\":{},\"serving\":{},"
      "\"now_ms\":{},\"replication\":{},\"heartbeat_interval_ms\":{},\"names\":{},"
      "\"under_replicated\":{},\"versions\":{{\"next\":{},\"max\":{},\"min\":{}}},",
      Quote(view.self), view.is_leader, Quote(c.leader()), Quote(view.leader_page), c.serving(),
      Millis(view.now_wall_ns), view.replication, view.heartbeat_interval_ms, c.names(),
      c.under_replicated(), c.next_version(), c.max_version(), c.min_version());
  out += "\"filestores\":[";
  bool first = true;
  auto comma = [&] {
    if (!first) out += ',';
    first = false;
  };
  for (const v1::FileStoreStatus& fs : c.filestores()) {
    comma();
    // Late: a heartbeat is overdue by half an interval (dropped after two missed ones).
    const bool late = fs.last_heartbeat_age_ms() > view.heartbeat_interval_ms * 3 / 2;
    out += fmt::format(
        "{{\"address\":{},\"state\":\"{}\",\"bytes_used\":{},\"bytes_available\":{},"
        "\"files\":{},\"heartbeat_age_ms\":{}}}",
        Quote(fs.address()), late ? "late" : "live", fs.bytes_used(), fs.bytes_available(),
        fs.files(), fs.last_heartbeat_age_ms());
  }
  for (const DroppedFileStore& d : view.dropped) {
    comma();
    out += fmt::format("{{\"address\":{},\"state\":\"dropped\",\"dropped_at_ms\":{}}}",
                       Quote(d.address), Millis(d.wall_ns));
  }
  out += fmt::format("],\"gc\":{{\"rounds\":{},\"ok\":{},\"last\":{},\"at_ms\":{}}},",
                     view.gc.rounds, view.gc.ok, Quote(view.gc.text), Millis(view.gc.wall_ns));
  out += "\"events\":[";
  first = true;
  for (const Event& e : view.events) {
    comma();
    out += fmt::format("{{\"at_ms\":{},\"kind\":{},\"text\":{}}}", Millis(e.wall_ns), Quote(e.kind),
                       Quote(e.text));
  }
  out += "]}";
  return out;
}

std::string_view StatusPageHtml() {
  static constexpr std::string_view kPage = R"HTML(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>chainfs status</title>
<style>
  :root { --ok: #1a7f37; --warn: #9a6700; --bad: #cf222e; --muted: #57606a; --line: #d0d7de; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif;
         color: #1f2328; background: #f6f8fa; }
  header { background: #24292f; color: #fff; padding: 12px 24px; display: flex;
           align-items: baseline; gap: 16px; flex-wrap: wrap; }
  header h1 { font-size: 18px; margin: 0; }
  header a { color: #9ecbff; }
  main { max-width: 1280px; margin: 0 auto; padding: 16px 24px; }
  .cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(180px, 1fr)); gap: 12px; }
  .card { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 10px 14px; }
  .card .label { color: var(--muted); font-size: 12px; text-transform: uppercase; }
  .card .value { font-size: 20px; font-weight: 600; }
  .card .sub { color: var(--muted); font-size: 12px; }
  section { margin-top: 20px; }
  h2 { font-size: 15px; margin: 0 0 8px; }
  table { width: 100%; border-collapse: collapse; background: #fff; border: 1px solid var(--line); }
  th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); }
  th { background: #f6f8fa; font-weight: 600; font-size: 12px; color: var(--muted); }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  .badge { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: 12px;
           font-weight: 600; color: #fff; }
  .live { background: var(--ok); } .late { background: var(--warn); } .dropped { background: var(--bad); }
  tr[data-state="dropped"] td { color: var(--muted); }
  .bar { width: 220px; height: 10px; background: #eaeef2; border-radius: 5px; overflow: hidden;
         display: inline-block; vertical-align: middle; margin-right: 8px; }
  .bar > div { height: 100%; background: #0969da; }
  .bar.full > div { background: var(--bad); }
  .good { color: var(--ok); } .bad { color: var(--bad); }
  ol#events { list-style: none; margin: 0; padding: 0; background: #fff; border: 1px solid var(--line); }
  ol#events li { padding: 5px 10px; border-bottom: 1px solid var(--line); display: flex; gap: 12px; }
  ol#events .when { color: var(--muted); font-variant-numeric: tabular-nums; min-width: 150px; }
  ol#events .kind { min-width: 90px; font-weight: 600; }
  #error { display: none; background: #ffebe9; color: var(--bad); padding: 8px 24px; }
  footer { color: var(--muted); font-size: 12px; padding: 12px 24px; text-align: right; }
</style>
</head>
<body>
<header>
  <h1>chainfs</h1>
  <span id="role">loading…</span>
  <span>leader: <strong id="leader">?</strong></span>
  <span id="leader-link"></span>
</header>
<div id="error"></div>
<main>
  <div class="cards">
    <div class="card"><div class="label">State</div><div class="value" id="serving">?</div>
      <div class="sub" id="self"></div></div>
    <div class="card"><div class="label">Names</div><div class="value" id="names">?</div>
      <div class="sub" id="replication"></div></div>
    <div class="card"><div class="label">Under-replicated</div>
      <div class="value" id="under-replicated">?</div></div>
    <div class="card"><div class="label">FileStores</div><div class="value" id="fs-count">?</div>
      <div class="sub" id="fs-space"></div></div>
    <div class="card"><div class="label">Versions</div><div class="value" id="next-version">?</div>
      <div class="sub" id="versions"></div></div>
    <div class="card"><div class="label">Garbage collection</div><div class="value" id="gc-rounds">?</div>
      <div class="sub" id="gc-last"></div></div>
  </div>
  <section>
    <h2>FileStores</h2>
    <table>
      <thead><tr><th>Address</th><th>State</th><th>Space</th><th class="num">Files</th>
        <th class="num">Last heartbeat</th></tr></thead>
      <tbody id="filestores"></tbody>
    </table>
  </section>
  <section>
    <h2>Recent events</h2>
    <ol id="events"></ol>
  </section>
</main>
<footer id="updated"></footer>
<script>
"use strict";
const REFRESH_MS = 3000;
const $ = (id) => document.getElementById(id);
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}
function bytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let u = 0;
  while (n >= 1024 && u < units.length - 1) { n /= 1024; ++u; }
  return (u === 0 ? n.toFixed(0) : n.toFixed(1)) + " " + units[u];
}
function ago(ms) {
  if (ms < 1000) return ms + " ms ago";
  if (ms < 120000) return (ms / 1000).toFixed(1) + " s ago";
  return Math.round(ms / 60000) + " min ago";
}
function when(ms) { return ms ? new Date(ms).toLocaleString() : "never"; }
function render(s) {
  $("role").textContent = s.is_leader ? "this NameServer leads" : "standby";
  $("leader").textContent = s.leader || "unknown";
  const link = $("leader-link");
  link.replaceChildren();
  if (!s.is_leader && s.leader_page) {
    link.append(el("a", {href: s.leader_page, id: "leader-page"}, "open the leader's page"));
  }
  $("self").textContent = s.self;
  $("serving").textContent = s.is_leader ? (s.serving ? "serving" : "starting up") : "standby";
  $("names").textContent = s.names;
  $("replication").textContent = "replication factor " + s.replication;
  const under = $("under-replicated");
  under.textContent = s.under_replicated;
  under.className = "value " + (s.under_replicated > 0 ? "bad" : "good");
  $("next-version").textContent = "next " + s.versions.next;
  $("versions").textContent = "/maxver " + s.versions.max + " · /minver " + s.versions.min;
  $("gc-rounds").textContent = s.gc.rounds + (s.gc.rounds === 1 ? " round" : " rounds");
  const last = $("gc-last");
  last.textContent = s.gc.at_ms ? s.gc.last + " (" + when(s.gc.at_ms) + ")" : "no round yet";
  last.className = "sub " + (s.gc.ok ? "" : "bad");
  const rows = [];
  let live = 0, used = 0, total = 0;
  for (const f of s.filestores) {
    const row = el("tr", {"class": "filestore", "data-address": f.address, "data-state": f.state});
    row.append(el("td", {}, f.address), el("td", {}, el("span", {"class": "badge " + f.state}, f.state)));
    if (f.state === "dropped") {
      row.append(el("td", {}, "—"), el("td", {"class": "num"}, "—"),
                 el("td", {"class": "num"}, "dropped " + ago(Math.max(0, s.now_ms - f.dropped_at_ms))));
    } else {
      ++live; used += f.bytes_used; total += f.bytes_used + f.bytes_available;
      const all = f.bytes_used + f.bytes_available;
      const pct = all > 0 ? 100 * f.bytes_used / all : 0;
      const bar = el("div", {"class": "bar" + (pct > 90 ? " full" : "")}, el("div", {style: "width:" + pct.toFixed(1) + "%"}));
      row.append(el("td", {}, bar, bytes(f.bytes_used) + " of " + bytes(all)),
                 el("td", {"class": "num"}, f.files), el("td", {"class": "num"}, ago(f.heartbeat_age_ms)));
    }
    rows.push(row);
  }
  $("filestores").replaceChildren(...rows);
  const dropped = s.filestores.length - live;
  $("fs-count").textContent = live + " live" + (dropped ? ", " + dropped + " dropped" : "");
  $("fs-space").textContent = bytes(used) + " used of " + bytes(total);
  $("events").replaceChildren(...s.events.map((e) => el("li", {"class": "event " + e.kind},
      el("span", {"class": "when"}, when(e.at_ms)), el("span", {"class": "kind"}, e.kind),
      el("span", {}, e.text))));
  $("updated").textContent = "updated " + new Date().toLocaleTimeString() +
      " · refreshes every " + REFRESH_MS / 1000 + " s";
}
async function refresh() {
  try {
    const reply = await fetch("status.json", {cache: "no-store"});
    if (!reply.ok) throw new Error("HTTP " + reply.status);
    render(await reply.json());
    $("error").style.display = "none";
  } catch (err) {
    $("error").textContent = "cannot reach this NameServer: " + err.message;
    $("error").style.display = "block";
  }
  setTimeout(refresh, REFRESH_MS);
}
refresh();
</script>
</body>
</html>
)HTML";
  return kPage;
}

}  // namespace chainfs::nameserver
