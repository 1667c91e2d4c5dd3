// The one place run results are printed for people (text) and programs (--json): each run
// returns its result, and its subcommand reports it here. Progress lines are the runs' own
// (gitaly/progress.h), on stderr; these summaries go to stdout.
#pragma once

#include <cstdio>

#include "backup/run.h"
#include "gitaly/progress.h"
#include "restore/run.h"
#include "restore/verify.h"

namespace gitvault {

void report_backup(std::FILE* out, OutputMode mode, const BackupRunResult& result);
void report_restore(std::FILE* out, OutputMode mode, const RestoreRunResult& result);
void report_verify(std::FILE* out, OutputMode mode, const VerifyResult& result);

}  // namespace gitvault
