#include "on_done.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "mediabatch/errors.hpp"
#include "mediabatch/file_io.hpp"
#include "mediabatch/text.hpp"

extern char** environ;

namespace mediabatch::cli {

std::vector<std::string> split_command_line(const std::string& line) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  char quote = 0;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quote == '\'') {
      if (c == '\'') quote = 0;
      else word += c;
    } else if (c == '\\' && i + 1 < line.size() && (quote == 0 || line[i + 1] == '"' || line[i + 1] == '\\')) {
      word += line[++i];
      in_word = true;
    } else if (quote == '"') {
      if (c == '"') quote = 0;
      else word += c;
    } else if (c == '\'' || c == '"') {
      quote = c;
      in_word = true;
    } else if (c == ' ' || c == '\t' || c == '\n') {
      if (in_word) words.push_back(std::move(word));
      word.clear();
      in_word = false;
    } else {
      word += c;
      in_word = true;
    }
  }
  if (quote != 0) throw UsageError("--on-done: the quote " + std::string(1, quote) + " is not closed");
  if (in_word) words.push_back(std::move(word));
  if (words.empty()) throw UsageError("--on-done: no command");
  return words;
}

namespace {

struct SpawnFileActions {
  posix_spawn_file_actions_t actions;
  SpawnFileActions() { posix_spawn_file_actions_init(&actions); }
  ~SpawnFileActions() { posix_spawn_file_actions_destroy(&actions); }
};

struct SpawnAttributes {
  posix_spawnattr_t attr;
  SpawnAttributes() { posix_spawnattr_init(&attr); }
  ~SpawnAttributes() { posix_spawnattr_destroy(&attr); }
};

void say(const std::string& program, const std::string& what) {
  std::fprintf(stderr, "mediabatch: --on-done %s: %s\n", printable(program).c_str(), what.c_str());
}

}  // namespace

void run_on_done(const std::vector<std::string>& argv, const std::string& summary) {
  int ends[2];
  if (::pipe2(ends, O_CLOEXEC) != 0) return say(argv[0], errno_text(errno));
  Fd read_end(ends[0]), write_end(ends[1]);
  SpawnFileActions files;
  posix_spawn_file_actions_adddup2(&files.actions, read_end.get(), 0);
  // Our threads block the batch's signals and SIGPIPE is ignored: the command gets neither.
  SpawnAttributes attributes;
  sigset_t none, pipe;
  sigemptyset(&none);
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  posix_spawnattr_setsigmask(&attributes.attr, &none);
  posix_spawnattr_setsigdefault(&attributes.attr, &pipe);
  posix_spawnattr_setflags(&attributes.attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int spawned = posix_spawnp(&pid, args[0], &files.actions, &attributes.attr, args.data(), environ);
  read_end.reset();
  if (spawned != 0) return say(argv[0], "cannot start it: " + errno_text(spawned));
  // A command that does not read its stdin makes this EPIPE, which is no error of ours.
  write_all(write_end.get(), summary.data(), summary.size());
  write_end.reset();
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) != 0) say(argv[0], "exited with " + std::to_string(WEXITSTATUS(status)));
  if (WIFSIGNALED(status)) say(argv[0], "killed by " + signal_text(WTERMSIG(status)));
}

}  // namespace mediabatch::cli
