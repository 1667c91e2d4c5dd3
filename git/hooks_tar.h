// custom_hooks archives: a ustar archive whose entries live under "custom_hooks/", the
// form gitaly writes and reads. Only directories and regular files are archived; on
// extraction anything else (links, devices) and any path leaving the directory is refused.
#pragma once

#include <string>
#include <vector>

namespace gitvault {

// Archives the directory `hooks_dir` (usually <repo>/custom_hooks). Symbolic links inside it
// are not followed and not archived; each one is reported in `skipped`.
std::string tar_hooks_directory(const std::string& hooks_dir, std::vector<std::string>* skipped);

// Extracts an archive made by tar_hooks_directory (or gitaly) into <repo_dir>/custom_hooks.
// Throws Error(PathEscape) for an entry that would leave that directory or is a link, and
// Error(Corrupt) naming `source_name` for a damaged archive.
void extract_hooks_tar(const std::string& archive, const std::string& repo_dir, const std::string& source_name);

}  // namespace gitvault
