#include "spill_file.hpp"

#include <cerrno>

#include <fcntl.h>

#include "mediabatch/errors.hpp"
#include "mediabatch/text.hpp"

extern "C" {
#include <libavcodec/packet.h>
}

namespace mediabatch::video {

SpillFile::SpillFile(const fs::path& dir) {
  {
    Fd fd(::open(dir.empty() ? "." : dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
    if (fd) file_.reset(::fdopen(fd.get(), "w+b"));
    if (file_) fd.release();  // the stream owns it now
  }
  if (!file_) file_.reset(std::tmpfile());  // a file system without O_TMPFILE
  if (!file_) throw Error("creating a temporary file: " + errno_text(errno));
}

void SpillFile::put(const AVPacket* p, double ipts) {
  const Record r{p->pts, p->dts, p->duration, ipts, p->flags, p->size};
  if (std::fwrite(&r, sizeof r, 1, file_.get()) != 1 ||
      (p->size > 0 && std::fwrite(p->data, static_cast<std::size_t>(p->size), 1, file_.get()) != 1))
    throw Error("writing a temporary file: " + errno_text(errno));
}

void SpillFile::rewind() { std::rewind(file_.get()); }

bool SpillFile::get(AVPacket* p, double& ipts) {
  Record r{};
  if (std::fread(&r, sizeof r, 1, file_.get()) != 1) return false;
  av_packet_unref(p);
  if (av_new_packet(p, r.size) < 0) throw Error("out of memory");
  if (r.size > 0 && std::fread(p->data, static_cast<std::size_t>(r.size), 1, file_.get()) != 1)
    throw Error("reading a temporary file: it ends early");
  p->pts = r.pts;
  p->dts = r.dts;
  p->duration = r.duration;
  p->flags = r.flags;
  ipts = r.ipts;
  return true;
}

}  // namespace mediabatch::video
