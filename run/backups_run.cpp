#include "run/backups_run.h"

#include <set>

#include "backup/destination_open.h"

#include <algorithm>
#include <set>
#include <unordered_set>

#include "backup/catalog.h"
#include "backup/proof_state.h"
#include "backup/run_locks.h"
#include "base/error.h"

namespace gitvault {

namespace {

BackupSummary summary_of(const BackupRecord& b, RecordSummary s) {
  BackupSummary out;
  out.id = b.id;
  out.status = b.status;
  out.started_at = b.started_at;
  out.finished_at = b.finished_at;
  out.repositories = s.repositories;
  out.failed = s.failed;
  out.pipeline = s.pipeline;
  out.legacy = s.legacy;
  out.full = s.full;
  out.incremental = s.incremental;
  out.unchanged = s.unchanged;
  out.bytes = s.bytes;
  out.needs = std::move(s.needs);  // a month of 15-minute backups: a thousand ids each
  out.hosts = b.parts;
  out.from_gitaly_backup = b.from_gitaly_backup;
  return out;
}

}  // namespace

namespace {

// On a sealed destination, whom each backup was sealed for (its records' seal lines, read
// with their headers already: no request more for a backup of one host).
void add_recipients(Sink& sink, std::vector<BackupSummary>& list, std::vector<std::string>* errors) {
  SealedSink* sealed = sealed_layer(sink);
  if (!sealed) return;
  for (auto& b : list) {
    if (b.from_gitaly_backup) continue;
    try {
      const std::set<std::string> recipients = sealed_recipients(
          *sealed, b.hosts.empty() ? std::vector<std::string>{record_name(b.id)} : record_files(sink, b.id));
      b.sealed_for.assign(recipients.begin(), recipients.end());
    } catch (const Error& e) {
      if (errors) errors->push_back(e.what());
    }
  }
}

// When deep verification last proved each backup whole (one small file; unreadable: said).
void add_proofs(Sink& sink, std::vector<BackupSummary>& list, std::vector<std::string>* errors) {
  try {
    ProvenFiles proofs = read_proven_files(sink);
    for (auto& b : list)
      if (auto it = proofs.backups.find(b.id); it != proofs.backups.end()) b.proven_at = it->second;
  } catch (const Error& e) {
    // A sealed destination's proofs need an identity (docs/encryption.md): without one the
    // column says nothing, which is not an error of `backups`.
    if (errors && !(e.code() == ErrorCode::Config && sealed_layer(sink))) errors->push_back(e.what());
  }
}

}  // namespace

std::vector<BackupSummary> list_backups(Sink& sink, std::vector<std::string>* errors,
                                        std::chrono::milliseconds lock_wait) {
  RunLocks locks(sink, LockMode::Shared, {}, LockMode::Shared, "backups", "", lock_wait);
  // A record's header carries its summary: only records without one (earlier versions, the
  // parts of a backup of several hosts, unreadable headers) are read whole.
  std::vector<std::string> unreadable;
  std::vector<BackupRecord> headers = read_all_headers(sink, &unreadable);
  BackupCatalog catalog(sink);
  std::vector<BackupSummary> out;
  for (auto& h : headers) {
    if (h.summary && h.hosts.empty()) {
      out.push_back(summary_of(h, std::move(*h.summary)));
      continue;
    }
    try {
      BackupRecord whole = catalog.read(h.id);
      out.push_back(summary_of(whole, summarize(whole)));
    } catch (const Error& e) {
      if (errors) errors->push_back(e.what());
    }
  }
  for (const auto& id : unreadable) {
    try {
      BackupRecord whole = catalog.read(id);  // says what is wrong with it
      out.push_back(summary_of(whole, summarize(whole)));
    } catch (const Error& e) {
      if (errors) errors->push_back(e.what());
    }
  }
  for (const auto& id : catalog.gitaly().ids) {  // gitaly-backup's own backups, read whole
    try {
      BackupRecord whole = catalog.read(id);
      out.push_back(summary_of(whole, summarize(whole)));
    } catch (const Error& e) {
      if (errors) errors->push_back(e.what());
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const BackupSummary& a, const BackupSummary& b) {
    return a.started_at != b.started_at ? a.started_at > b.started_at : a.id > b.id;
  });
  std::unordered_set<std::string> present;
  for (const auto& b : out) present.insert(b.id);
  for (auto& b : out)
    for (const auto& n : b.needs)
      if (!present.count(n)) b.needs_pruned.push_back(n);
  add_proofs(sink, out, errors);
  add_recipients(sink, out, errors);
  return out;
}

}  // namespace gitvault
