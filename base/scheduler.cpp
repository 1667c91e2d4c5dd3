#include "base/scheduler.h"

#include <tbb/global_control.h>
#include <tbb/task_arena.h>
#include <tbb/task_group.h>

#include <algorithm>
#include <thread>

namespace gitvault {

struct Scheduler::Workers {
  // Jobs mostly wait on git, so more workers than cores is legitimate: lift TBB's default
  // cap (the number of cores) to what was asked for. No slot is reserved for the
  // submitting thread, so at most n jobs run even while it waits in done().
  explicit Workers(int n) : control(tbb::global_control::max_allowed_parallelism, static_cast<std::size_t>(n) + 1), arena(n, 0) {}
  tbb::global_control control;
  tbb::task_arena arena;
  tbb::task_group group;
  bool waited = false;
};

Scheduler::Scheduler(int parallel, int parallel_storage)
    : parallel_(std::max(1, parallel)), parallel_storage_(parallel_storage), workers_(std::make_unique<Workers>(parallel_)) {
  workers_->arena.execute([this] {
    for (int i = 0; i < parallel_; ++i) workers_->group.run([this] { worker_loop(); });
  });
}

Scheduler::~Scheduler() { done(); }

void Scheduler::submit(const std::string& storage, std::function<void()> job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queues_[storage].push_back(std::move(job));
  }
  cv_.notify_all();
}

bool Scheduler::take(std::string& storage, std::function<void()>& job) {
  // Round-robin over storages, starting after the one served last.
  auto start = queues_.upper_bound(last_storage_);
  for (std::size_t i = 0; i < queues_.size(); ++i, ++start) {
    if (start == queues_.end()) start = queues_.begin();
    auto& [name, q] = *start;
    if (q.empty()) continue;
    if (parallel_storage_ > 0 && running_[name] >= parallel_storage_) continue;
    storage = name;
    job = std::move(q.front());
    q.pop_front();
    ++running_[name];
    last_storage_ = name;
    return true;
  }
  return false;
}

void Scheduler::worker_loop() {
  for (;;) {
    std::string storage;
    std::function<void()> job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] {
        if (take(storage, job)) return true;
        if (!closed_) return false;
        for (const auto& [name, q] : queues_)
          if (!q.empty()) return false;  // waiting for a storage slot
        return true;
      });
      if (!job) return;  // closed and drained
    }
    try {
      job();
    } catch (...) {
      // jobs report their own failures; nothing may escape a worker
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      --running_[storage];
    }
    cv_.notify_all();
  }
}

void Scheduler::done() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
  }
  cv_.notify_all();
  if (!workers_->waited) {
    workers_->waited = true;
    workers_->arena.execute([this] { workers_->group.wait(); });
  }
}

int default_parallel() {
  // hardware_concurrency() reads /sys on every call; jobs ask for it once each.
  static const int cpus = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return cpus;
}

int git_threads_per_job(int parallel) { return std::max(1, default_parallel() / std::max(1, parallel)); }

}  // namespace gitvault
