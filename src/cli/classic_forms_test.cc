#include "cli/classic_forms.h"

#include <gtest/gtest.h>

namespace ck::cli {
namespace {

using V = std::vector<std::string>;

TEST(ClassicForms, EachFormMapsToItsSubcommand) {
  EXPECT_EQ(translate_classic_forms(V{"-c", "pw"}), (V{"generate", "--", "pw"}));
  EXPECT_EQ(translate_classic_forms(V{"-r", "pw", "a.zip"}), (V{"restore", "--", "pw", "a.zip"}));
  EXPECT_EQ(translate_classic_forms(V{"-re", "pw", "a.zip"}),
            (V{"restore", "--no-export", "--", "pw", "a.zip"}));
  EXPECT_EQ(translate_classic_forms(V{"-e", "/x"}), (V{"export-agent-key", "--", "/x"}));
  EXPECT_EQ(translate_classic_forms(V{"-ine", "pw", "f.pfx"}), (V{"import", "--", "pw", "f.pfx"}));
  EXPECT_EQ(translate_classic_forms(V{"-l", "out.csv"}), (V{"list-mismatched", "--", "out.csv"}));
}

TEST(ClassicForms, GlobalFlagsMayComeFirst) {
  EXPECT_EQ(translate_classic_forms(V{"--store", "sqlite:/srv/ck.db", "-c", "pw"}),
            (V{"--store", "sqlite:/srv/ck.db", "generate", "--", "pw"}));
  EXPECT_EQ(translate_classic_forms(V{"--store=sqlite:x", "--json", "-e", "d"}),
            (V{"--store=sqlite:x", "--json", "export-agent-key", "--", "d"}));
}

// -q/-v/--json before or right after the classic flag stay global switches; after the
// positionals everything is positional (a password may start with '-').
TEST(ClassicForms, GlobalSwitchesBeforeTheArguments) {
  EXPECT_EQ(translate_classic_forms(V{"-q", "-l", "out.csv"}), (V{"-q", "list-mismatched", "--", "out.csv"}));
  EXPECT_EQ(translate_classic_forms(V{"-vv", "--json", "-c", "pw"}), (V{"-vv", "--json", "generate", "--", "pw"}));
  EXPECT_EQ(translate_classic_forms(V{"-l", "--json", "-q", "out.csv"}),
            (V{"list-mismatched", "--json", "-q", "--", "out.csv"}));
  EXPECT_EQ(translate_classic_forms(V{"-l", "out.csv", "--json"}), (V{"list-mismatched", "--", "out.csv", "--json"}));
}

TEST(ClassicForms, PasswordStartingWithDashStaysPositional) {
  EXPECT_EQ(translate_classic_forms(V{"-c", "-Str0ng-pass"}), (V{"generate", "--", "-Str0ng-pass"}));
  EXPECT_EQ(translate_classic_forms(V{"-c", "--Str0ng-pass"}), (V{"generate", "--", "--Str0ng-pass"}));
}

// `certmgr -c --password-file F` (as docs/server.md writes it): the option stays an
// option instead of becoming the password.
TEST(ClassicForms, PasswordSourceOptionsAfterTheClassicFlagStayOptions) {
  EXPECT_EQ(translate_classic_forms(V{"-c", "--password-file", "pw"}), (V{"generate", "--password-file", "pw"}));
  EXPECT_EQ(translate_classic_forms(V{"-c", "--password-file=pw", "--days", "30"}),
            (V{"generate", "--password-file=pw", "--days", "30"}));
  EXPECT_EQ(translate_classic_forms(V{"-r", "--password-stdin", "a.zip"}),
            (V{"restore", "--password-stdin", "--", "a.zip"}));
  EXPECT_EQ(translate_classic_forms(V{"-ine", "--password-file", "pw", "f.pfx"}),
            (V{"import", "--password-file", "pw", "--", "f.pfx"}));
}

TEST(ClassicForms, LongFormsPassThrough) {
  EXPECT_EQ(translate_classic_forms(V{"status", "--json"}), (V{"status", "--json"}));
  EXPECT_EQ(translate_classic_forms(V{"-x"}), (V{"-x"}));
}

}  // namespace
}  // namespace ck::cli
