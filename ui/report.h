// The one place results are printed, for people (text) and programs (--json): every run
// returns its result and its subcommand (cli/) hands it here. Progress, notes and warnings
// while a run works are ui/progress.h's, on stderr; these summaries go to stdout.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "backup/catalog.h"
#include "run/backups_run.h"
#include "run/prune_run.h"
#include "config/config.h"
#include "restore/verify.h"
#include "run/backup_run.h"
#include "run/drill_run.h"
#include "run/restore_run.h"
#include "ui/progress.h"

namespace gitvault {

void report_backup(std::FILE* out, OutputMode mode, const BackupRunResult& result);
void report_restore(std::FILE* out, OutputMode mode, const RestoreRunResult& result);
// A command reading the destination as of a moment (--as-of): the moment, and the objects
// changed or removed since, which it does not read (on `err`, before the command's output).
// Nothing for any other destination.
void report_reading_as_of(std::FILE* err, const Sink& sink);
void report_verify(std::FILE* out, OutputMode mode, const VerifyResult& result);
void report_drill(std::FILE* out, OutputMode mode, const DrillResult& result);
// `where` names the backup directory (for "no backups in ...").
void report_backups(std::FILE* out, OutputMode mode, const std::vector<BackupSummary>& list, const std::string& where);
// `backups --at`: what a restore at `at` takes.
void report_moment(std::FILE* out, OutputMode mode, std::int64_t at, const MomentSelection& sel);
void report_prune(std::FILE* out, OutputMode mode, const PrunePlan& plan, bool dry_run);
// `gitvault config check`: "FILE:LINE: problem" per problem, or "FILE: ok".
void report_config_check(std::FILE* out, OutputMode mode, const std::string& file,
                         const std::vector<ConfigProblem>& problems);

}  // namespace gitvault
