#include "protocol/seq_source.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <sys/stat.h>

#include "common/file_util.h"

namespace ck::protocol {

Result<std::unique_ptr<SeqSource>> SeqSource::open(const std::string& path, const Clock* clock) {
  if (!clock) clock = &system_clock();
  int64_t start = 0;
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) {
    CK_ASSIGN_OR_RETURN(std::string text, read_file(path, 64));
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), start);
    if (ec != std::errc() || p != text.data() + text.size() || start < 0)
      return make_error(ErrorKind::kCorrupt, "sequence counter file " + path + " is corrupt");
  } else if (errno != ENOENT) {
    return errno_error("cannot read", path, errno);
  }
  std::unique_ptr<SeqSource> src(new SeqSource(path, clock, start));
  CK_RETURN_IF_ERROR(src->reserve(start + kBlock));
  return src;
}

Status SeqSource::reserve(int64_t up_to) {
  CK_RETURN_IF_ERROR(write_file_atomic(path_, std::to_string(up_to) + "\n", 0600));
  reserved_ = up_to;
  return ok_status();
}

Result<int64_t> SeqSource::next(int64_t at_least) {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t v = std::max(last_ + 1, clock_->now() * 1000000);
  if (at_least < kMaxAtLeast) v = std::max(v, at_least);
  if (v >= reserved_) CK_RETURN_IF_ERROR(reserve(v + kBlock));
  last_ = v;
  return v;
}

}  // namespace ck::protocol
