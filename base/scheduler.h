// The one scheduler of gitvault: every concurrent job of a run (the worker's repositories,
// verify's, the legacy engine's and the conversation with the worker) goes through one.
// It runs jobs concurrently under two limits that hold at every instant:
// at most `parallel` jobs in all and at most `parallel_storage` per storage.
//
// Jobs wait in one queue per storage (never a shared bounded queue), and a free worker takes
// the next job, round-robin, from any storage that is under its limit. So a long run of
// jobs for one storage never idles workers that another storage could use (the
// head-of-line blocking of gitaly's pipeline, where reading stdin blocks on one storage's
// full channel). Submitting never blocks: the producer (stdin reader) keeps reading while
// git runs, so reading jobs, running git, writing files and logging overlap.
//
// Workers are TBB tasks in an arena of `parallel` threads. (tbb::parallel_pipeline is not
// used for the middle stage: a token waiting for its storage's slot would hold a thread,
// which is exactly head-of-line blocking.)
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace gitvault {

// Jobs at once when none is given: one per CPU.
int default_parallel();
// Threads for git's own work in each job (pack-objects, index-pack), so that jobs × threads
// stays near the number of CPUs.
int git_threads_per_job(int parallel);

class Scheduler {
 public:
  // parallel_storage <= 0 means no per-storage limit.
  Scheduler(int parallel, int parallel_storage);
  ~Scheduler();  // waits for every job (done())
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Queues a job for a storage; returns at once.
  void submit(const std::string& storage, std::function<void()> job);
  // No more jobs: waits until every queued job has run.
  void done();

 private:
  void worker_loop();
  bool take(std::string& storage, std::function<void()>& job);  // requires mu_

  const int parallel_;
  const int parallel_storage_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::deque<std::function<void()>>> queues_;  // guarded by mu_
  std::map<std::string, int> running_;                               // guarded by mu_
  std::string last_storage_;                                         // guarded by mu_
  bool closed_ = false;                                              // guarded by mu_
  struct Workers;
  std::unique_ptr<Workers> workers_;
};

}  // namespace gitvault
