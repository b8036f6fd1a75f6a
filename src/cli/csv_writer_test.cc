#include "cli/csv_writer.h"

#include <gtest/gtest.h>

namespace ck::cli {
namespace {

TEST(Csv, QuotesOnlyWhenNeededAndDoublesQuotes) {
  EXPECT_EQ(csv_cell("plain"), "plain");
  EXPECT_EQ(csv_cell("a,b"), "\"a,b\"");
  EXPECT_EQ(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(csv_cell("two\nlines"), "\"two\nlines\"");
  EXPECT_EQ(csv_row({"a", "", "c"}), "a,,c\r\n");
}

TEST(Csv, NeutralisesFormulaInjection) {
  EXPECT_EQ(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
  EXPECT_EQ(csv_cell("+1"), "'+1");
  EXPECT_EQ(csv_cell("-cmd"), "'-cmd");
  EXPECT_EQ(csv_cell("@SUM(A1)"), "'@SUM(A1)");
  EXPECT_EQ(csv_cell("host-1"), "host-1");
  EXPECT_EQ(csv_cell("\t=1+2"), "'\t=1+2");
  EXPECT_EQ(csv_cell("\r=1+2"), "\"'\r=1+2\"");
  EXPECT_EQ(csv_cell("a\tb"), "a\tb");
}

}  // namespace
}  // namespace ck::cli
