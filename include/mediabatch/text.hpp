#pragma once
// Small text helpers for the engine and the encoders (ASCII case rules: file extensions,
// tag names and cue sheet keywords are ASCII). Pure functions; thread-safe; throw nothing but
// std::bad_alloc.
#include <cstdint>
#include <string>
#include <string_view>

namespace mediabatch {

std::string lower(std::string s);
std::string upper(std::string s);
bool iequals(std::string_view a, std::string_view b) noexcept;
// The lower-case extension of a file name with its dot (".wav"), empty when it has none.
std::string lower_extension(const std::string& filename);
// Text from outside (a file name, a library's message) made safe for a terminal: control
// characters become \n, \t, \r or \xNN (so a name holding an ANSI escape cannot rewrite the
// screen), bytes that are not UTF-8 become \xNN; keep_newlines leaves
// '\n' as it is (for messages of several lines we wrote ourselves).
std::string printable(std::string_view s, bool keep_newlines = false);
// "No such file or directory": the text of an errno value.
std::string errno_text(int error);
// A signal's name: "SIGABRT" (or "signal 40").
std::string signal_text(int sig);
// One number through a printf format with one conversion ("%+.2f dB").
std::string number_text(const char* format, double value);
// "3600 megapixels", "0.077 megapixels": an image's size in a reason such as "above --max-pixels".
std::string megapixels_text(std::uint64_t pixels);
// "0.5", "30": seconds as a user typed them, for reasons such as "timed out after 0.5 s".
std::string seconds_text(double seconds);
// "2.500 s": a media time to the millisecond, for reasons such as "a corrupt packet at 2.500 s".
std::string media_time_text(double seconds);
// "1.2.4": a library version from its parts, for --version.
std::string version_text(unsigned major, unsigned minor, unsigned patch);

}  // namespace mediabatch
