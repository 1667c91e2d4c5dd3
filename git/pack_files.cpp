#include "git/pack_files.h"

#include <algorithm>

namespace gitvault {

void FileEnds::add(const char* data, std::size_t size) {
  if (head_.size() < 32) head_.append(data, std::min<std::size_t>(32 - head_.size(), size));
  tail_.append(data + (size > 40 ? size - 40 : 0), std::min<std::size_t>(size, 40));
  if (tail_.size() > 40) tail_.erase(0, tail_.size() - 40);
  size_ += size;
}

const char* extension(PackCompanion c) {
  switch (c) {
    case PackCompanion::Index: return "idx";
    case PackCompanion::ReverseIndex: return "rev";
    case PackCompanion::Bitmap: return "bitmap";
  }
  return "";
}

std::optional<std::string> pack_checksum(const FileEnds& pack) {
  if (pack.size() < 32 || pack.head().compare(0, 4, "PACK") != 0) return std::nullopt;
  return pack.tail().substr(pack.tail().size() - 20);
}

std::optional<std::string> pack_named_by(PackCompanion c, const FileEnds& file) {
  // .idx and .rev end with the pack's checksum and then their own; a bitmap names the pack
  // in its header, after "BITM", version, options and entry count.
  static const char* const magic[] = {"\377tOc", "RIDX", "BITM"};
  const int i = static_cast<int>(c);
  if (file.size() < 72 || file.head().compare(0, 4, magic[i]) != 0) return std::nullopt;
  return c == PackCompanion::Bitmap ? file.head().substr(12, 20) : file.tail().substr(0, 20);
}

}  // namespace gitvault
