#include "backup/object_locks.h"

#include <atomic>
#include <exception>
#include <mutex>
#include <set>

#include "backup/catalog.h"
#include "backup/layout.h"
#include "base/error.h"
#include "base/scheduler.h"

namespace gitvault {
namespace {

constexpr const char* kLedger = "+gitvault/locks";

void write_mark(Sink& sink, const std::string& id, std::int64_t until) {
  auto w = sink.create_new(std::string(kLedger) + "/" + id + "." + std::to_string(until));
  w->commit();
}

bool written_by(const std::string& name, const std::string& id) {
  for (const auto& x : backup_ids_in_name(name))
    if (x == id) return true;
  return false;
}

// Extends every name to `until`, eight requests at a time; the first failure is rethrown.
void extend_all(Sink& sink, const std::vector<std::string>& names, std::int64_t until) {
  std::mutex mu;
  std::exception_ptr first;
  {
    Scheduler scheduler(8, 0);
    for (const auto& n : names)
      scheduler.submit("", [&, n] {
        try {
          sink.extend_lock(n, until);
        } catch (...) {
          std::lock_guard<std::mutex> lock(mu);
          if (!first) first = std::current_exception();
        }
      });
    scheduler.done();
  }
  if (first) std::rethrow_exception(first);
}

}  // namespace

std::map<std::string, std::int64_t> read_lock_ledger(Sink& sink) {
  std::map<std::string, std::int64_t> out;
  for (const auto& name : sink.list(kLedger)) {
    auto mark = lock_mark_of(std::string(kLedger) + "/" + name);
    if (!mark) continue;  // not an entry
    auto& until = out[mark->backup];
    until = std::max(until, mark->until);
  }
  return out;
}

std::optional<LockMark> lock_mark_of(const std::string& name) {
  const std::string prefix = std::string(kLedger) + "/";
  if (name.rfind(prefix, 0) != 0) return std::nullopt;
  const std::string rest = name.substr(prefix.size());
  const std::size_t dot = rest.rfind('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 == rest.size() || rest.size() - dot - 1 > 12 ||
      rest.find('/') != std::string::npos || rest.find_first_not_of("0123456789", dot + 1) != std::string::npos)
    return std::nullopt;
  return LockMark{rest.substr(0, dot), std::stoll(rest.substr(dot + 1))};
}

std::vector<std::string> files_written_by(Sink& sink, const BackupRecord& b, const std::vector<std::string>& chain_names) {
  std::set<std::string> out;
  for (const auto& f : record_files(sink, b.id)) out.insert(f);
  for (const auto& n : chain_names)
    if (is_chain_file_name(n) && chain_key_backup(chain_key_of_file(n)) == b.id) out.insert(n);
  for (const auto& r : b.repositories) {
    std::vector<const FileDigest*> own = {r.bundle ? &*r.bundle : nullptr, r.refs ? &*r.refs : nullptr,
                                          r.custom_hooks ? &*r.custom_hooks : nullptr};
    for (const auto* p : {&r.pack.index, &r.pack.reverse, &r.pack.bitmap}) own.push_back(*p ? &**p : nullptr);
    for (const FileDigest* f : own)
      if (f && written_by(f->name, b.id)) out.insert(f->name);
    if (has_own_manifest(r)) out.insert(manifest_name(b.id, r.storage, r.named_path()));
  }
  return {out.begin(), out.end()};
}

LockExtension keep_needs_locked(Sink& sink, const BackupRecord& night, std::int64_t night_start) {
  LockExtension done;
  const std::int64_t lock_for = sink.lock_for();
  if (lock_for <= 0) return done;
  const std::int64_t needed_until = night_start + lock_for, extend_to = night_start + 2 * lock_for;
  std::vector<std::string> chain_names;
  for (const auto& n : sink.list_recursive("+gitvault/chains")) chain_names.push_back(n);
  BackupRecord header;
  header.id = night.id;
  header.summary = summarize(night);
  header.summary->needs.push_back(night.id);  // the needs its own chain files hold
  const std::set<std::string> needs = NeedsClosure(sink, chain_names).of(header);
  const std::map<std::string, std::int64_t> ledger = read_lock_ledger(sink);
  for (const auto& id : needs) {
    if (id == night.id) continue;
    auto it = ledger.find(id);
    if (it != ledger.end() && it->second >= needed_until) continue;
    const std::vector<std::string> files = files_written_by(sink, read_record(sink, id), chain_names);
    extend_all(sink, files, extend_to);
    write_mark(sink, id, extend_to);
    done.backups.push_back(id);
    done.objects += files.size();
  }
  write_mark(sink, night.id, needed_until);  // its own objects were written locked at least this long
  return done;
}

}  // namespace gitvault
