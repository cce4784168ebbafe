// File names as they come: newlines, tabs, ANSI escapes, quotes, bytes that are not UTF-8.
// The report stays valid JSON Lines and the console never prints a raw control character.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <sstream>

#include "mediabatch/text.hpp"
#include "support/test_support.hpp"

namespace fs = std::filesystem;

TEST(NamesCli, AwkwardNamesGiveValidReportLinesAndSafeConsoleLines) {
  mbtest::TempDir dir;
  const std::vector<std::string> names = {"new\nline.fk", "tab\there.fk", "esc\x1b[2Jclear.fk", "bad\xff\xfeutf8.fk",
                                          "quote\"d.fk", "bell\x07.fk"};
  for (const auto& n : names) mbtest::write_file(dir / n, "FAKE\n");
  mbtest::write_file(dir / "fails\x1b]0;title\x07.fk", "FAKE\nfail broken \x1b[31mred\n");
  const fs::path report = dir / "report.jsonl";
  auto r = mbtest::fake_mediabatch({"fake", "--report", report.string(), dir.path().string()});
  EXPECT_EQ(r.exit_code, 1) << r.err;

  std::istringstream lines(mbtest::read_file(report));
  std::size_t n = 0;
  for (std::string line; std::getline(lines, line); ++n) {
    const auto j = nlohmann::json::parse(line, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << "not JSON: " << line;
  }
  EXPECT_EQ(n, names.size() + 1);
  // One console line per file, none with a control character.
  const std::string console = r.out + r.err;
  EXPECT_EQ(console.find('\x1b'), std::string::npos);
  EXPECT_EQ(console.find('\x07'), std::string::npos);
  EXPECT_EQ(static_cast<std::size_t>(std::count(r.out.begin(), r.out.end(), '\n')), names.size() + 1) << r.out;
  EXPECT_NE(r.out.find("new\\nline.fk"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("esc\\x1b[2Jclear.fk"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("bad\\xff\\xfeutf8.fk"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("broken \\x1b[31mred"), std::string::npos) << r.out;
}

TEST(Printable, EscapesControlsAndBrokenUtf8KeepsTheRest) {
  using mediabatch::printable;
  EXPECT_EQ(printable("plain name.jpg"), "plain name.jpg");
  EXPECT_EQ(printable("caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac.jpg"), "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac.jpg");
  EXPECT_EQ(printable("a\nb\tc\rd"), "a\\nb\\tc\\rd");
  EXPECT_EQ(printable("x\x1b[2Jy\x7f"), "x\\x1b[2Jy\\x7f");
  EXPECT_EQ(printable("\xff\xc3"), "\\xff\\xc3");
  EXPECT_EQ(printable("\xc2\x9b" "31m"), "\\xc2\\x9b31m");  // C1 CSI, UTF-8 encoded
  EXPECT_EQ(printable("\xed\xa0\x80"), "\\xed\\xa0\\x80");  // a surrogate
  EXPECT_EQ(printable("two\nlines", true), "two\nlines");
}
