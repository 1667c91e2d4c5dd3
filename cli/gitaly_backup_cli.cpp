#include "cli/gitaly_backup_cli.h"

#include <sys/prctl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <algorithm>
#include <cstdio>
#include <iostream>

#include "backup/record.h"
#include "base/scheduler.h"
#include "base/encoding.h"
#include "base/error.h"
#include "git/storage.h"
#include "gitaly/worker.h"


namespace gitvault {
namespace {

// Go-style options: "-path" and "--path" mean the same.
std::vector<std::string> normalise_args(int argc, char** argv) {
  std::vector<std::string> out;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.size() > 2 && a[0] == '-' && a[1] != '-' && a != "-h") a = "-" + a;
    out.push_back(a);
  }
  return out;
}

struct Options {
  std::string command;
  std::string path;
  std::vector<std::string> storage_specs;
  std::vector<Storage> storages;
  int parallel = 0;
  int parallel_storage = 2;
  std::string id;
  std::string layout = "manifest";
  bool incremental = false;
  bool verify_objects = false;
  std::vector<std::string> previous_ids;
  std::vector<std::string> fallback_ids;
  int max_chain = 0;
  bool reuse_full_steps = false;
  bool no_lock = false;
  SealSettings seal;
};

}  // namespace

int gitaly_backup_main(int argc, char** argv) {
  CLI::App app{"gitaly-backup: back up and restore repositories from a stream of JSON jobs on stdin"};
  app.require_subcommand(1);
  Options o;
  auto add_common = [&](CLI::App* c) {
    c->add_option("--path", o.path, "Backup directory")->required();
    c->add_option("--storage", o.storage_specs, "A storage as NAME=DIR (repeatable)")->required();
    c->add_option("--parallel", o.parallel, "Jobs at once in all (default: number of CPUs)");
    c->add_option("--parallel-storage", o.parallel_storage, "Jobs at once per storage (default 2; 0 = no limit)");
    c->add_option("--id", o.id, "Backup id (create default: UTC YYYYMMDDhhmmss; restore default: latest)");
    c->add_flag("--no-lock", o.no_lock,
                "Take no lock: the caller holds them (gitvault passes it; docs/locking.md)");
    c->add_option("--seal-recipient", o.seal.recipients, "Seal to this age recipient (repeatable; docs/encryption.md)");
    c->add_option("--seal-recipients-file", o.seal.recipients_file, "Seal to the recipients in this file");
    c->add_option("--identity", o.seal.identity_file, "Read a sealed destination with this age identity file (0600)");
    c->add_option("--signing-key", o.seal.signing_key, "This host's signing key file (sealed destinations)");
    c->add_option("--trusted-signer", o.seal.trusted_signers, "Another host's signing key to trust (repeatable)");
    c->add_option("--seal-shadow", o.seal.shadow_dir, "The directory of this host's shadow of what it sealed");
    c->add_flag("--trust-any-signer", o.seal.trust_any_signer, "Accept records signed by any key");
  };
  CLI::App* create = app.add_subcommand("create", "Back up the repositories named on stdin");
  add_common(create);
  create->add_option("--layout", o.layout, "manifest (default) or legacy")->check(CLI::IsMember({"manifest", "legacy"}));
  create->add_flag("--incremental", o.incremental,
                   "Build on the previous backup (unchanged repositories: no data; others: what is new)");
  create->add_option("--previous-id", o.previous_ids,
                     "With --incremental: a backup to build on (repeatable, newest first: each repository builds on "
                     "the first that has it; default: back to the newest complete backup, else +latest manifests)");
  create->add_flag("--reuse-full-steps", o.reuse_full_steps,
                   "A full backup: a repository whose step in a --previous-id backup is a full bundle of the same "
                   "refs is recorded unchanged, its files where they are");
  create->add_option("--max-chain", o.max_chain,
                     "With --incremental: a repository whose chain has this many steps gets a full bundle (0: no limit)");
  CLI::App* restore = app.add_subcommand("restore", "Restore the repositories named on stdin");
  add_common(restore);
  restore->add_flag("--verify-objects", o.verify_objects,
                    "Re-hash every object with git index-pack, even where the backup kept the pack's index");
  restore->add_option("--fallback-id", o.fallback_ids,
                      "A backup to take a repository from when --id did not back it up (repeatable, newest first)");
  std::vector<std::string> args = normalise_args(argc, argv);
  std::reverse(args.begin(), args.end());
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  try {
    for (const auto& s : o.storage_specs) o.storages.push_back(parse_storage_spec(s));
    validate_storages(o.storages, false);
  } catch (const Error& e) {
    std::fprintf(stderr, "gitaly-backup: %s\n", printable(e.what()).c_str());
    return 2;
  }
  WorkerOptions w;
  w.command = *create ? "create" : "restore";
  w.path = o.path;
  w.storages = o.storages;
  w.parallel = o.parallel;
  w.parallel_storage = o.parallel_storage;
  w.id = o.id;
  w.layout = o.layout == "legacy" ? Layout::Legacy : Layout::Manifest;
  w.incremental = o.incremental;
  w.verify_objects = o.verify_objects;
  w.previous_ids = o.previous_ids;
  w.fallback_ids = o.fallback_ids;
  w.max_chain = o.max_chain;
  w.reuse_full_steps = o.reuse_full_steps;
  w.no_lock = o.no_lock;
  w.seal = o.seal;
  if (w.no_lock) {
    // Spawned by gitvault, which holds the locks: die with it. A worker that outlived a
    // killed gitvault would go on writing into a directory whose lock is already free.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() == 1) return 2;  // the parent is already gone
  }
  return run_worker_jobs(w, std::cin, stdout, stderr);
}

}  // namespace gitvault
