#include "backup/manifest.h"

#include "backup/destination_open.h"

#include <sstream>
#include <toml++/toml.h>

#include "backup/layout.h"
#include "base/encoding.h"
#include "base/error.h"

namespace gitvault {

namespace {

// TOML strings must be UTF-8: a name that is not is written lossy under `key` and exactly,
// in base64, under `key`_raw (the rule of base/encoding.h).
void insert_name(toml::table& t, const std::string& key, const std::string& bytes) {
  if (is_valid_utf8(bytes)) {
    t.insert(key, bytes);
  } else {
    t.insert(key, lossy_utf8(bytes));
    t.insert(key + "_raw", base64_encode(bytes));
  }
}

std::optional<std::string> name_value(const toml::table& t, const std::string& key) {
  if (auto raw = t[key + "_raw"].value<std::string>()) return base64_decode(*raw);
  return t[key].value<std::string>();
}

// An integer key: absent, or an integer; any other kind (a float, a string) is refused, not
// converted.
std::optional<int64_t> integer_value(const toml::table& t, const std::string& key, const std::string& where) {
  const toml::node* n = t.get(key);
  if (!n) return std::nullopt;
  if (!n->is_integer()) throw Error(ErrorCode::Corrupt, where + ": " + key + " is not an integer");
  return n->as_integer()->get();
}

// A file a manifest names must be a clean relative name inside the backup directory, and not
// one of gitvault's own files: a hostile manifest never leads a restore, verify or prune
// elsewhere.
void check_sink_name_of(const std::string& path, const std::string& where, const char* key) {
  try {
    check_sink_name(path);
  } catch (const Error& e) {
    throw Error(ErrorCode::Corrupt, where + ": " + key + " escapes the backup directory: " + e.what());
  }
  if (is_gitvault_own_file(path))
    throw Error(ErrorCode::Corrupt, where + ": " + key + " names gitvault's own file '" + printable(path) + "'");
}

void add_digest(toml::table& step, const char* prefix, const char* path_key, const std::optional<FileDigest>& d) {
  if (!d) return;
  insert_name(step, path_key, d->name);
  if (!d->has_checksum) return;  // a step of gitaly-backup's own backup: none recorded
  step.insert(std::string(prefix) + "_sha256", d->sha256);
  step.insert(std::string(prefix) + "_size", static_cast<int64_t>(d->size));
}

// gitvault's additions to a step: the companions of its bundle's pack.
// A step's keys for a pack companion: <prefix>_path, <prefix>_sha256, <prefix>_size.
std::string pack_key_prefix(PackCompanion c) {
  return c == PackCompanion::Index ? "pack_index" : c == PackCompanion::ReverseIndex ? "pack_reverse_index" : "pack_bitmap";
}

void add_pack(toml::table& step, const PackCompanions& p) {
  for (PackCompanion c : kPackCompanions) {
    const std::string prefix = pack_key_prefix(c);
    add_digest(step, prefix.c_str(), (prefix + "_path").c_str(), p.of(c));
  }
}

// A file a step names (<prefix>_path) with its recorded SHA-256 and size, when it names one;
// gitaly-backup's steps record neither (has_checksum false). Errors name `where`.
std::optional<FileDigest> step_digest(const toml::table& step, const std::string& prefix, const std::string& where) {
  const std::string path_key = prefix + "_path";
  auto path = name_value(step, path_key);
  if (!path || path->empty()) return std::nullopt;  // gitaly-backup writes '' for none
  check_sink_name_of(*path, where, path_key.c_str());
  auto sha = step[prefix + "_sha256"].value<std::string>();
  auto size = integer_value(step, prefix + "_size", where);
  if (!sha && !size) return FileDigest{*path, "", 0, false};
  if (!sha || !size || sha->empty())
    throw Error(ErrorCode::Corrupt, where + ": " + path_key + " has a SHA-256 without a size or a size without a SHA-256");
  if (*size < 0) throw Error(ErrorCode::Corrupt, where + ": " + path_key + " has a negative size");
  return FileDigest{*path, *sha, static_cast<std::uint64_t>(*size)};
}

// A step's pack companions (gitvault's addition), which need an index and a bundle.
PackCompanions step_pack(const toml::table& step, const std::optional<FileDigest>& bundle, const std::string& where) {
  PackCompanions pack;
  for (PackCompanion c : kPackCompanions) pack.of(c) = step_digest(step, pack_key_prefix(c), where);
  if (!pack.index && (pack.reverse || pack.bitmap))
    throw Error(ErrorCode::Corrupt, where + ": pack companions without pack_index_path");
  if (!pack.empty() && !bundle) throw Error(ErrorCode::Corrupt, where + ": pack companions without a bundle");
  return pack;
}

}  // namespace

std::string format_manifest(const RepositoryRecord& r) {
  toml::array steps;
  const FileDigest* previous_refs = nullptr;
  for (const auto& p : r.previous_steps) {
    toml::table step;
    step.insert("backup_id", p.backup_id);
    step.insert("number", static_cast<int64_t>(p.number));
    add_digest(step, "bundle", "bundle_path", p.bundle);
    add_pack(step, p.pack);
    add_digest(step, "ref", "ref_path", p.refs);
    if (previous_refs) insert_name(step, "previous_ref_path", previous_refs->name);
    previous_refs = &p.refs;
    steps.push_back(std::move(step));
  }
  toml::table step;
  step.insert("number", static_cast<int64_t>(r.step));
  step.insert("kind", to_string(r.kind));
  add_digest(step, "bundle", "bundle_path", r.bundle);
  add_pack(step, r.pack);
  add_digest(step, "ref", "ref_path", r.refs);
  if (previous_refs) insert_name(step, "previous_ref_path", previous_refs->name);
  add_digest(step, "custom_hooks", "custom_hooks_path", r.custom_hooks);
  steps.push_back(std::move(step));
  toml::table t;
  t.insert("object_format", "sha1");
  insert_name(t, "head_reference", r.head_target);
  t.insert("head_oid", r.head_oid);
  t.insert("empty", r.status == ItemStatus::Empty);
  t.insert("non_existent", false);
  insert_name(t, "project_path", r.project_path);
  t.insert("ref_count", static_cast<int64_t>(r.ref_count));
  if (r.pool.linked()) {  // gitvault's own keys (gitaly-backup ignores them): the first steps are the pool's
    insert_name(t, "pool_relative_path", r.pool.relative_path);
    t.insert("pool_steps", static_cast<int64_t>(r.pool.steps));
  }
  t.insert("steps", std::move(steps));
  std::ostringstream out;
  out << t << "\n";
  return out.str();
}

namespace {
void parse_manifest_text(const std::string& text, const std::string& name, RepositoryRecord& out);
}  // namespace

void parse_manifest(const std::string& text, const std::string& name, RepositoryRecord& out) {
  try {
    parse_manifest_text(text, name, out);
  } catch (const Error& e) {
    if (std::string_view(e.what()).substr(0, name.size()) == name) throw;
    throw Error(ErrorCode::Corrupt, name + ": " + e.what());
  }
}

namespace {
// gitvault's pool keys (a fork network's member, docs/fork-networks.md) into out.pool,
// checked against the chain already read into `out`.
void read_pool_link(const toml::table& t, const std::string& name, RepositoryRecord& out) {
  out.pool = {};
  auto pool = name_value(t, "pool_relative_path");
  if (!pool) return;
  const int64_t n = integer_value(t, "pool_steps", name).value_or(0);
  if (n <= 0) throw Error(ErrorCode::Corrupt, name + ": pool_relative_path without a positive pool_steps");
  out.pool = {*pool, static_cast<std::size_t>(n)};
  check_pool_link(out);  // parse_manifest puts the manifest's name in front of its message
}

void parse_manifest_text(const std::string& text, const std::string& name, RepositoryRecord& out) {
  toml::table t;
  try {
    t = toml::parse(text, name);
  } catch (const toml::parse_error& e) {
    throw Error(ErrorCode::Corrupt, name + ": unreadable manifest: " + std::string(e.description()));
  }
  const std::string object_format = t["object_format"].value_or(std::string("sha1"));
  if (object_format != "sha1")
    throw Error(ErrorCode::Corrupt, name + ": object format '" + printable(object_format) +
                                        "' is not supported (gitvault restores SHA-1 repositories only)");
  out.head_target = name_value(t, "head_reference").value_or(std::string());
  out.head_oid = t["head_oid"].value_or(std::string());
  out.project_path = name_value(t, "project_path").value_or(out.project_path);
  out.ref_count = static_cast<std::size_t>(integer_value(t, "ref_count", name).value_or(0));
  bool empty = t["empty"].value_exact<bool>().value_or(false);
  auto* steps = t["steps"].as_array();
  // gitaly-backup's word for a repository that did not exist when it ran: nothing to restore.
  if (t["non_existent"].value_exact<bool>().value_or(false)) {
    out.layout = Layout::Manifest;
    out.status = ItemStatus::Skipped;
    return;
  }
  if (empty && (!steps || steps->empty())) {  // an empty repository: no files at all
    out.layout = Layout::Manifest;
    out.status = ItemStatus::Empty;
    return;
  }
  if (!steps || steps->empty()) throw Error(ErrorCode::Corrupt, name + ": manifest has no steps");
  out.previous_steps.clear();
  for (std::size_t i = 0; i < steps->size(); ++i) {
    auto* step = (*steps)[i].as_table();
    std::string where = name + ": step " + std::to_string(i + 1);
    if (!step) throw Error(ErrorCode::Corrupt, where + " is not a table");
    const int64_t numbered = integer_value(*step, "number", where).value_or(int64_t(i + 1));
    if (numbered != static_cast<int64_t>(i + 1))
      throw Error(ErrorCode::Corrupt, where + " is numbered " + std::to_string(numbered) + " (steps must be 1, 2, 3, ...)");
    const int number = static_cast<int>(numbered);
    auto bundle = step_digest(*step, "bundle", where);
    PackCompanions pack = step_pack(*step, bundle, where);
    auto refs = step_digest(*step, "ref", where);
    // An increment names the refs of the step before it (gitaly's previous_ref_path): they
    // must be that step's, or the chain is not one chain.
    if (auto prev = name_value(*step, "previous_ref_path"); prev && !prev->empty() && i > 0) {
      const std::string before = out.previous_steps.empty() ? std::string() : out.previous_steps.back().refs.name;
      if (*prev != before)
        throw Error(ErrorCode::Corrupt, where + ": previous_ref_path '" + printable(*prev) +
                                            "' is not the ref_path of step " + std::to_string(i) + " ('" +
                                            printable(before) + "')");
    }
    if (i + 1 < steps->size()) {
      if (!refs) throw Error(ErrorCode::Corrupt, where + " has no ref_path");
      // gitaly's steps do not say which backup wrote them: the directory of their files does
      // (<storage>/<relative path>/<id>/NNN.refs).
      std::string by = (*step)["backup_id"].value_or(parent_directory_name(refs->name));
      out.previous_steps.push_back({by, number, bundle, *refs, pack});
    } else {
      out.step = number;
      std::string kind = (*step)["kind"].value_or(std::string(i == 0 ? "full" : "incremental"));
      auto known = step_kind_named(kind);
      if (!known) throw Error(ErrorCode::Corrupt, where + ": unknown kind '" + kind + "'");
      out.kind = *known;
      out.bundle = bundle;
      out.pack = pack;
      out.refs = refs;
      out.custom_hooks = step_digest(*step, "custom_hooks", where);
    }
  }
  out.layout = Layout::Manifest;
  out.status = empty ? ItemStatus::Empty : ItemStatus::Ok;
  if (!empty && out.kind == StepKind::Full && !out.bundle) throw Error(ErrorCode::Corrupt, name + ": not empty but no bundle");
  if (!out.refs) throw Error(ErrorCode::Corrupt, name + ": last step has no ref_path");
  read_pool_link(t, name, out);
}
}  // namespace

void write_manifests(Sink& sink, const std::string& id, const RepositoryRecord& repo) {
  std::string text = format_manifest(repo);
  write_whole(sink, manifest_name(id, repo.storage, repo.named_path()), text, FileDurability::AtRunSync);
  // +latest.toml replaces the previous backup's: it takes its name at the run's sync(). Not
  // where every name is written once (Sink::append_only): gitvault's readers name the backup;
  // nor on a sealed destination, whose manifests gitaly-backup could not read anyway.
  if (sink.append_only() || sealed_layer(sink)) return;
  write_whole(sink, latest_manifest_name(repo.storage, repo.named_path()), text, FileDurability::ReplacedAtRunSync);
}

}  // namespace gitvault
