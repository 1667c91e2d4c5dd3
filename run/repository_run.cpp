#include "run/repository_run.h"

#include <chrono>

#include "base/encoding.h"
#include "base/error.h"
#include "gitaly/protocol.h"
#include "s3/client.h"

namespace gitvault {
namespace {

constexpr const char* kLegacyLane = "legacy";
constexpr const char* kWorkerLane = "worker";

JobOutcome failed(std::string why) {
  JobOutcome o;
  o.status = ItemStatus::Failed;
  o.error = std::move(why);
  return o;
}

JobOutcome not_attempted(std::string why) {
  JobOutcome o;
  o.status = ItemStatus::NotAttempted;
  o.error = std::move(why);
  return o;
}

// The worker opens a sealed destination as gitvault does: the same settings, by path (no key
// passes through its command line, only public keys and the files that hold secrets).
void append_seal_args(const SealSettings& s, std::vector<std::string>& args) {
  if (!s.enabled()) return;
  for (const auto& r : s.recipients) args.insert(args.end(), {"--seal-recipient", r});
  if (!s.recipients_file.empty()) args.insert(args.end(), {"--seal-recipients-file", s.recipients_file});
  if (!s.identity_file.empty()) args.insert(args.end(), {"--identity", s.identity_file});
  if (!s.signing_key.empty()) args.insert(args.end(), {"--signing-key", s.signing_key});
  for (const auto& t : s.trusted_signers) args.insert(args.end(), {"--trusted-signer", t});
  if (!s.shadow_dir.empty()) args.insert(args.end(), {"--seal-shadow", s.shadow_dir});
  if (s.trust_any_signer) args.push_back("--trust-any-signer");
}

}  // namespace

WorkerCommand worker_command(const RepositoryRunOptions& o, const std::string& subcommand, const std::string& id,
                             const std::set<std::string>& storages, const std::vector<std::string>& extra) {
  std::vector<std::string> args = {subcommand, "--no-lock", "--path", o.backup_path, "--id", id,
                                   "--parallel-storage", std::to_string(o.parallel_storage)};
  if (o.parallel > 0) args.insert(args.end(), {"--parallel", std::to_string(o.parallel)});
  for (const auto& s : o.storages)
    if (storages.count(s.name)) args.insert(args.end(), {"--storage", s.name + "=" + s.path});
  args.insert(args.end(), extra.begin(), extra.end());
  append_seal_args(o.seal, args);
  std::vector<std::pair<std::string, std::string>> env;
  if (o.backup_path.rfind("s3://", 0) == 0) env = s3::credentials_for_child();
  return {o.worker_program.empty() ? default_worker_program() : o.worker_program, std::move(args), std::move(env)};
}

// Two lanes, one job each at a time: the legacy engine (one repository at a time, as the
// legacy path always has) and the conversation with the worker.
RepositoryRun::RepositoryRun(std::string verb, std::string doing, std::optional<WorkerCommand> worker,
                             RunObserver& observer)
    : verb_(std::move(verb)), doing_(std::move(doing)), worker_(std::move(worker)), observer_(observer), lanes_(2, 1) {
  if (!worker_) return;
  lanes_.submit(kWorkerLane, [this] {
    try {
      worker_end_ = run_worker(
          worker_->program, worker_->args, queue_, [this](const WorkerAnswer& line) { on_worker_line(line); },
          [this](const std::string& text) { observer_.worker_text(text); }, worker_->env);
    } catch (const std::exception& e) {
      worker_end_.exit_code = -1;
      worker_end_.err = e.what();
    }
  });
}

RepositoryRun::~RepositoryRun() {
  queue_.close();
  lanes_.done();
}

void RepositoryRun::run(const std::vector<EngineJob>& jobs, const Engines& engines) {
  observer_.started(verb_, jobs.size());
  std::vector<std::size_t> for_worker;
  {
    std::lock_guard<std::mutex> lock(mu_);
    jobs_ = &jobs;
    engines_ = &engines;
    for (std::size_t i = 0; i < jobs.size(); ++i) {
      if (jobs[i].engine != Engine::Pipeline) continue;
      with_worker_[job_key(jobs[i].storage, jobs[i].relative_path)] = i;
      for_worker.push_back(i);
    }
  }
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    if (jobs[i].engine != Engine::Legacy) continue;
    lanes_.submit(kLegacyLane, [this, &engines, i] {
      auto t0 = std::chrono::steady_clock::now();
      JobOutcome outcome;
      try {
        const std::string stop = stop_reason();
        outcome = stop.empty() ? engines.legacy(i) : not_attempted(stop);
      } catch (const std::exception& e) {
        outcome = failed(e.what());
      }
      outcome.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::lock_guard<std::mutex> lock(mu_);
      finish_locked(i, std::move(outcome));
    });
  }
  if (worker_)
    for (std::size_t i : for_worker) queue_.push({jobs[i].storage, jobs[i].relative_path, jobs[i].project_path, false});
  queue_.close();
  lanes_.done();

  std::lock_guard<std::mutex> lock(mu_);
  const std::string who = worker_ ? "gitaly-backup worker (" + worker_->program + ")" : "";
  const bool died = worker_end_.signal != 0 || (worker_end_.exit_code != 0 && worker_end_.exit_code != 1);
  const std::string stop = stop_reason();
  const std::string why =
      !stop.empty() ? stop
      : worker_     ? who + " ended before " + doing_ + " this repository: " + (died ? worker_end_.describe() : "no result reported")
                    : "no gitaly-backup worker was started for this run, though the route chose the pipeline";
  auto unreported = std::move(with_worker_);
  with_worker_.clear();
  for (const auto& entry : unreported) finish_locked(entry.second, stop.empty() ? failed(why) : not_attempted(why));
  if (worker_ && !worker_end_.ok() && unreported.empty() && worker_failed_jobs_ == 0)
    worker_failure_ = who + " failed: " + worker_end_.describe();
  observer_.finished();
  jobs_ = nullptr;
  engines_ = nullptr;
}

void RepositoryRun::on_worker_line(const WorkerAnswer& line) {
  // Thrown out of the worker's output: run_process stops the worker.
  if (const std::string stop = stop_reason(); !stop.empty()) throw Error(ErrorCode::Io, stop);
  std::lock_guard<std::mutex> lock(mu_);
  if (line.kind == WorkerAnswer::Kind::Finished) worker_peak_rss_kib_ = line.peak_rss_kib;
  if (!engines_) return;
  if (!line.names_job) return;
  auto it = with_worker_.find(job_key(line.job.storage, line.job.relative_path));
  if (it == with_worker_.end()) return;
  std::size_t i = it->second;
  std::optional<JobOutcome> outcome;
  try {
    outcome = engines_->worker_result(i, line);
  } catch (const std::exception& e) {
    outcome = failed(std::string("unreadable result from the gitaly-backup worker: ") + e.what());
  }
  if (!outcome) return;
  with_worker_.erase(it);
  if (outcome->status == ItemStatus::Failed) ++worker_failed_jobs_;
  finish_locked(i, std::move(*outcome));
}

void RepositoryRun::finish_locked(std::size_t i, JobOutcome outcome) {
  engines_->done(i, outcome);
  const EngineJob& job = (*jobs_)[i];
  const bool failed_job = outcome.status == ItemStatus::Failed;
  observer_.item_done({job.storage, job.relative_path, outcome.status, outcome.bytes, outcome.seconds,
                       failed_job ? outcome.error : outcome.detail});
}

long RepositoryRun::worker_peak_rss_kib() const {
  std::lock_guard<std::mutex> lock(mu_);
  return worker_peak_rss_kib_;
}

std::string RepositoryRun::worker_failure() const {
  std::lock_guard<std::mutex> lock(mu_);
  return worker_failure_;
}

}  // namespace gitvault
