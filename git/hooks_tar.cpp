#include "git/hooks_tar.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "base/error.h"
#include "base/files.h"

namespace fs = std::filesystem;

namespace gitvault {
namespace {

constexpr std::size_t kBlock = 512;
const std::string kPrefix = "custom_hooks";

void put_octal(char* field, std::size_t width, unsigned long long value) {
  // width includes the terminating NUL
  std::string s(width - 1, '0');
  for (std::size_t i = width - 1; i-- > 0 && value;) {
    s[i] = static_cast<char>('0' + (value & 7));
    value >>= 3;
  }
  std::memcpy(field, s.data(), width - 1);
  field[width - 1] = '\0';
}

void add_entry(std::string& out, const std::string& name, char type, mode_t mode, const std::string& data) {
  char h[kBlock];
  std::memset(h, 0, sizeof h);
  std::string prefix, base = name;
  if (base.size() > 100) {
    std::size_t cut = base.rfind('/', 155);
    if (cut == std::string::npos || base.size() - cut - 1 > 100)
      throw Error(ErrorCode::Io, "custom hooks path too long to archive: " + name);
    prefix = base.substr(0, cut);
    base = base.substr(cut + 1);
  }
  std::memcpy(h, base.data(), base.size());
  put_octal(h + 100, 8, mode & 07777);
  put_octal(h + 108, 8, 0);
  put_octal(h + 116, 8, 0);
  put_octal(h + 124, 12, data.size());
  put_octal(h + 136, 12, 0);
  h[156] = type;
  std::memcpy(h + 257, "ustar", 6);
  std::memcpy(h + 263, "00", 2);
  std::memcpy(h + 345, prefix.data(), prefix.size());
  std::memset(h + 148, ' ', 8);
  unsigned sum = 0;
  for (unsigned char c : std::string(h, kBlock)) sum += c;
  put_octal(h + 148, 7, sum);
  h[155] = ' ';
  out.append(h, kBlock);
  out += data;
  out.append((kBlock - data.size() % kBlock) % kBlock, '\0');
}

void archive_dir(std::string& out, const fs::path& dir, const std::string& name, std::vector<std::string>* skipped) {
  std::vector<fs::directory_entry> entries;
  for (const auto& e : fs::directory_iterator(dir)) entries.push_back(e);
  std::sort(entries.begin(), entries.end(),
            [](const auto& a, const auto& b) { return a.path().filename() < b.path().filename(); });
  for (const auto& e : entries) {
    std::string child = name + "/" + e.path().filename().string();
    struct stat st;
    if (::lstat(e.path().c_str(), &st) != 0) throw_errno("stat", e.path().string(), errno);
    if (S_ISDIR(st.st_mode)) {
      add_entry(out, child + "/", '5', st.st_mode, "");
      archive_dir(out, e.path(), child, skipped);
    } else if (S_ISREG(st.st_mode)) {
      add_entry(out, child, '0', st.st_mode, read_file(e.path().string()));
    } else if (skipped) {
      skipped->push_back(e.path().string());
    }
  }
}

unsigned long long parse_octal(const char* field, std::size_t width, const std::string& source) {
  unsigned long long v = 0;
  std::size_t i = 0;
  while (i < width && field[i] == ' ') ++i;
  for (; i < width && field[i] >= '0' && field[i] <= '7'; ++i) v = v * 8 + static_cast<unsigned>(field[i] - '0');
  if (i < width && field[i] != '\0' && field[i] != ' ')
    throw Error(ErrorCode::Corrupt, source + ": malformed number in tar header");
  return v;
}

// Returns the path below custom_hooks/ ("" for the directory itself), or throws.
std::string checked_relative(const std::string& entry, const std::string& source) {
  auto refuse = [&](const std::string& why) {
    return Error(ErrorCode::PathEscape, source + ": refusing tar entry '" + entry + "': " + why);
  };
  if (entry.empty() || entry[0] == '/') throw refuse("absolute path");
  std::string p = entry;
  if (p.rfind("./", 0) == 0) p = p.substr(2);
  while (!p.empty() && p.back() == '/') p.pop_back();
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= p.size()) {
    std::size_t slash = p.find('/', start);
    std::string part = p.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (part == "..") throw refuse("parent directory reference");
    if (!part.empty() && part != ".") parts.push_back(part);
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  if (parts.empty() || parts[0] != kPrefix) throw refuse("outside custom_hooks/");
  std::string rel;
  for (std::size_t i = 1; i < parts.size(); ++i) rel += (rel.empty() ? "" : "/") + parts[i];
  return rel;
}

}  // namespace

std::string tar_hooks_directory(const std::string& hooks_dir, std::vector<std::string>* skipped) {
  std::string out;
  struct stat st;
  if (::lstat(hooks_dir.c_str(), &st) != 0) throw_errno("stat", hooks_dir, errno);
  add_entry(out, kPrefix + "/", '5', st.st_mode, "");
  try {
    archive_dir(out, hooks_dir, kPrefix, skipped);
  } catch (const fs::filesystem_error& e) {
    throw Error(ErrorCode::Io, std::string("read custom hooks ") + hooks_dir + ": " + e.what());
  }
  out.append(2 * kBlock, '\0');
  return out;
}

namespace {

// The "path" record of a pax extended header's data ("" when it has none).
std::string pax_path_of(const std::string& data, const std::string& source) {
  std::string path;
  std::size_t p = 0;
  while (p < data.size()) {
    std::size_t sp = data.find(' ', p);
    if (sp == std::string::npos) break;
    std::size_t len = std::stoul(data.substr(p, sp - p));
    if (len == 0 || p + len > data.size()) throw Error(ErrorCode::Corrupt, source + ": malformed pax header");
    std::string rec = data.substr(sp + 1, len - (sp - p) - 2);
    if (rec.rfind("path=", 0) == 0) path = rec.substr(5);
    p += len;
  }
  return path;
}

// One entry of the archive, `name` inside the hooks directory `root`: directories and regular
// files only, never through or over anything else.
void extract_entry(const std::string& root, const std::string& name, char type, mode_t mode, const std::string& data,
                   const std::string& source) {
  std::string rel = checked_relative(name, source);
  std::string target = rel.empty() ? root : root + "/" + rel;
  if (type == '5') {
    make_dirs(target, 0755);
    ::chmod(target.c_str(), mode | 0700);
    return;
  }
  if (type == '1' || type == '2')
    throw Error(ErrorCode::PathEscape, source + ": refusing tar entry '" + name + "': links are not allowed in custom hooks");
  if (type != '0' && type != '\0' && type != '7')
    throw Error(ErrorCode::PathEscape,
                source + ": refusing tar entry '" + name + "': unsupported entry type '" + std::string(1, type) + "'");
  if (rel.empty()) throw Error(ErrorCode::Corrupt, source + ": file entry named like the hooks directory");
  make_dirs(fs::path(target).parent_path().string(), 0755);
  if (is_directory_nofollow(target) || (path_exists(target) && !fs::is_regular_file(fs::symlink_status(target))))
    throw Error(ErrorCode::PathEscape, source + ": refusing tar entry '" + name + "': overwrites a non-file");
  int fd = ::open(target.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) throw_errno("create", target, errno);
  try {
    write_all(fd, data.data(), data.size(), target);
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::fchmod(fd, mode);
  if (::close(fd) != 0) throw_errno("close", target, errno);
}

}  // namespace

void extract_hooks_tar(const std::string& archive, const std::string& repo_dir, const std::string& source) {
  const std::string root = repo_dir + "/" + kPrefix;
  make_dirs(root, 0755);
  std::size_t pos = 0;
  std::string long_name;  // from a pax header or a GNU long-name entry, for the next entry
  while (pos + kBlock <= archive.size()) {
    const char* h = archive.data() + pos;
    if (std::all_of(h, h + kBlock, [](char c) { return c == 0; })) return;  // the end-of-archive block
    unsigned long long want = parse_octal(h + 148, 8, source);
    unsigned long long sum = 0;
    for (std::size_t i = 0; i < kBlock; ++i)
      sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(h[i]);
    if (sum != want) throw Error(ErrorCode::Corrupt, source + ": tar header checksum mismatch at offset " + std::to_string(pos));
    std::string name(h, strnlen(h, 100));
    std::string prefix(h + 345, strnlen(h + 345, 155));
    if (std::memcmp(h + 257, "ustar", 5) == 0 && !prefix.empty()) name = prefix + "/" + name;
    unsigned long long size = parse_octal(h + 124, 12, source);
    mode_t mode = static_cast<mode_t>(parse_octal(h + 100, 8, source)) & 0777;
    char type = h[156];
    pos += kBlock;
    if (size > archive.size() - pos) throw Error(ErrorCode::Corrupt, source + ": truncated tar archive");
    std::string data = archive.substr(pos, size);
    pos += (size + kBlock - 1) / kBlock * kBlock;
    if (type == 'x') {  // pax extended header: only "path" matters to us
      long_name = pax_path_of(data, source);
    } else if (type == 'L') {  // GNU long name
      long_name = std::string(data.c_str());
    } else if (type != 'g') {
      extract_entry(root, long_name.empty() ? name : long_name, type, mode, data, source);
      long_name.clear();
    }
  }
  throw Error(ErrorCode::Corrupt, source + ": truncated tar archive");
}

}  // namespace gitvault
