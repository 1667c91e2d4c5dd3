// Reading and writing a bare repository's refs (libgit2 for reading, plain files for
// writing), and the `.refs` text format: `<oid> <refname>` per line as `git show-ref --head`
// prints it, HEAD first.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace gitvault {

struct RefEntry {
  std::string oid;
  std::string name;
  bool operator==(const RefEntry&) const = default;
};

struct RefSnapshot {
  std::vector<RefEntry> refs;  // every ref under refs/, sorted by name, symbolic refs resolved
  std::string head_oid;        // what HEAD resolves to; empty when HEAD is unborn
  std::string head_target;     // the ref HEAD points at when symbolic ("refs/heads/main"); empty when detached
  bool empty() const { return refs.empty(); }
  bool operator==(const RefSnapshot&) const = default;
};

// Initialises libgit2 once per process (owner validation off: backups run as a service user).
void ensure_libgit2();

// Reads every ref and HEAD of the bare repository at repo_path: read_refs_plain_files when
// it can, else libgit2. Throws Error(Git) naming the repository when it cannot be read.
RefSnapshot read_refs(const std::string& repo_path);

// The same through libgit2 alone (opens the repository, iterates its refs).
RefSnapshot read_refs_libgit2(const std::string& repo_path);

// The same read straight from the files backend (HEAD, loose refs, packed-refs) relative to
// one descriptor of the repository directory, a few system calls per ref directory and
// loose ref instead of libgit2's dozens per repository. nullopt whenever anything is outside
// the plain case (symlinks, lock files, names git rejects, unusual file content, reftable,
// SHA-256 oids): the caller then asks libgit2.
std::optional<RefSnapshot> read_refs_plain_files(const std::string& repo_path);

// The `.refs` file: "HEAD" line first (when HEAD resolves), then refs in name order.
std::string format_refs_file(const RefSnapshot& snapshot);

// The objects a snapshot's refs and HEAD point at, each once, sorted.
std::vector<std::string> ref_tips(const RefSnapshot& snapshot);

// Parses a `.refs` file; head_target is not part of the format and stays empty.
// Throws Error(Corrupt) naming file_name on a malformed line.
RefSnapshot parse_refs_file(const std::string& text, const std::string& file_name);

// Writes HEAD and packed-refs of a freshly created bare repository (no loose refs) so that
// it has exactly the given refs. With fsync, each file is written atomically and fsynced;
// without, the caller makes the whole repository durable at once (restore syncs the file
// system before it swaps a private temporary repository into place).
enum class Durability { Fsync, CallerSyncs };
void write_refs(const std::string& repo_path, const RefSnapshot& snapshot, Durability durability = Durability::Fsync);

// Lists up to `limit` differences between two snapshots, "" when they are equal.
std::string describe_ref_differences(const RefSnapshot& expected, const RefSnapshot& actual,
                                     std::size_t limit = 5);

// The value of a key in the repository's own config file (e.g. gitlab.fullpath), "" when
// unset. Global and system config are not consulted.
std::string read_config_string(const std::string& repo_path, const std::string& key);
void write_config_string(const std::string& repo_path, const std::string& key, const std::string& value);

// The oids among `oids` that the repository's object database does not have.
std::vector<std::string> missing_objects(const std::string& repo_path, const std::vector<std::string>& oids);

// Creates an empty bare repository at path (which must not exist).
void init_bare_repository(const std::string& path);

// Creates the smallest bare repository git accepts, as `git init --bare --template=` does:
// HEAD, config, objects/{info,pack}, refs/{heads,tags} — no sample hooks, description or
// info/exclude. Restores build into one: 9 inodes per repository instead of 14.
void init_bare_repository_skeleton(const std::string& path);

bool is_valid_oid(const std::string& s);
bool is_valid_refname(const std::string& name);

}  // namespace gitvault
