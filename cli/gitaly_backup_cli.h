// The `gitaly-backup` worker, with gitaly-backup's interface:
//
//   gitaly-backup create  -path DIR -storage NAME=DIR... [-parallel N] [-parallel-storage M] [-id ID] [-layout manifest|legacy]
//   gitaly-backup restore -path DIR -storage NAME=DIR... [-parallel N] [-parallel-storage M] [-id ID]
//
// Options take one dash or two, as Go's flag package does. Jobs arrive on stdin, one JSON
// object per line: {"storage_name":…, "relative_path":…, "gl_project_path":…, "always_create":…}.
// Each job logs JSON lines on stdout ("started create", "completed create", "skipped create",
// "create failed" with "error"; the same for restore), with gitaly's fields plus
// duration_seconds, bytes, and the repository's outcome ("repository", as in the backup
// record). A malformed line fails with its line number and the reason; a job for an unknown
// storage or an escaping path fails that job only. At the end, on stderr:
// "<command>: pipeline: N failures encountered:" and exit status 1.
#pragma once

namespace gitvault {

int gitaly_backup_main(int argc, char** argv);

}  // namespace gitvault
