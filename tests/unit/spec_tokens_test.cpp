#include <gtest/gtest.h>

#include "spec/c_tokens.h"

namespace kx {
namespace {

std::vector<std::string> texts(const std::vector<Token> &toks, TokenKind kind) {
  std::vector<std::string> out;
  for (const auto &t : toks)
    if (t.kind == kind) out.push_back(t.text);
  return out;
}

using Texts = std::vector<std::string>;

TEST(SpecTokens, CommentsVanishIncludingMultiLineOnes) {
  auto toks = tokenize("a /* 1 */ b // 2 /* 3\nc /* 4\n 5 */ d = 6;\n");
  EXPECT_EQ(texts(toks, TokenKind::Identifier), (Texts{"a", "b", "c", "d"}));
  EXPECT_EQ(texts(toks, TokenKind::Integer), (Texts{"6"}));
  EXPECT_EQ(toks[3].line, 3);  // d, after the comment that spans lines 2-3
  EXPECT_EQ(toks.back().line, 3);
}

TEST(SpecTokens, StringsHideDigitsAndCommentMarkers) {
  auto toks = tokenize(R"(printf("%d /* 5 */ // 6 \" 7", 8);)");
  EXPECT_EQ(texts(toks, TokenKind::String), (Texts{R"("%d /* 5 */ // 6 \" 7")"}));
  EXPECT_EQ(texts(toks, TokenKind::Integer), (Texts{"8"}));
}

TEST(SpecTokens, CharLiteralsAndPrefixes) {
  auto toks = tokenize(R"(c = '0' + '\'' + L'x' + u'1'; s = L"9" u8"10" U"11" u"12"; L = u8;)");
  EXPECT_EQ(texts(toks, TokenKind::Char), (Texts{"'0'", R"('\'')", "L'x'", "u'1'"}));
  EXPECT_EQ(texts(toks, TokenKind::String), (Texts{R"(L"9")", R"(u8"10")", R"(U"11")", R"(u"12")"}));
  EXPECT_TRUE(texts(toks, TokenKind::Integer).empty());
  EXPECT_EQ(texts(toks, TokenKind::Identifier), (Texts{"c", "s", "L", "u8"}));
}

TEST(SpecTokens, IntegerSuffixesBelongToTheToken) {
  auto toks = tokenize("1U 2ul 3LLU 4uLL 5lu 6L 7ll 8Ul 9lL 10uu 11LUL");
  EXPECT_EQ(texts(toks, TokenKind::Integer), (Texts{"1U", "2ul", "3LLU", "4uLL", "5lu", "6L", "7ll", "8Ul"}));
  EXPECT_EQ(texts(toks, TokenKind::PpNumber), (Texts{"9lL", "10uu", "11LUL"}));
}

TEST(SpecTokens, HexOctalBinary) {
  auto toks = tokenize("0x7f 0X1FUL 0755 0b101 0 09 0x");
  EXPECT_EQ(texts(toks, TokenKind::Integer), (Texts{"0x7f", "0X1FUL", "0755", "0b101", "0"}));
  EXPECT_EQ(texts(toks, TokenKind::PpNumber), (Texts{"09", "0x"}));
}

TEST(SpecTokens, DigitsInIdentifiersAreNotNumbers) {
  auto toks = tokenize("u64 x = (u64)1 << __u32_max + s8x2;");
  EXPECT_EQ(texts(toks, TokenKind::Integer), (Texts{"1"}));
  EXPECT_EQ(texts(toks, TokenKind::Identifier), (Texts{"u64", "x", "u64", "__u32_max", "s8x2"}));
}

TEST(SpecTokens, FloatsAreNumbersButNotIntegers) {
  auto toks = tokenize("1.5 .5 1e10 1.0f 0x1p3 1e+5 2. 3");
  EXPECT_EQ(texts(toks, TokenKind::Float), (Texts{"1.5", ".5", "1e10", "1.0f", "0x1p3", "1e+5", "2."}));
  EXPECT_EQ(texts(toks, TokenKind::Integer), (Texts{"3"}));
  // C's preprocessing-number rule: 0x1e+1 is one token, and not a valid number.
  EXPECT_EQ(texts(tokenize("0x1e+1"), TokenKind::PpNumber), (Texts{"0x1e+1"}));
}

TEST(SpecTokens, LineContinuationsJoinButKeepPhysicalPlaces) {
  std::string src = "#define X(a) \\\n  ((a) * 12)\ny = 3\\\n4;\n";
  auto toks = tokenize(src);
  auto ints = texts(toks, TokenKind::Integer);
  ASSERT_EQ(ints, (Texts{"12", "34"}));
  const Token *twelve = nullptr, *y = nullptr, *tf = nullptr;
  for (const auto &t : toks) {
    if (t.text == "12") twelve = &t;
    if (t.text == "y") y = &t;
    if (t.text == "34") tf = &t;
  }
  EXPECT_EQ(twelve->line, 2);
  EXPECT_FALSE(twelve->line_start);  // still the #define
  EXPECT_EQ(src.substr(twelve->offset, twelve->length), "12");
  EXPECT_TRUE(y->line_start);
  EXPECT_EQ(y->line, 3);
  EXPECT_EQ(tf->line, 3);
  EXPECT_EQ(src.substr(tf->offset, tf->length), "3\\\n4");
}

TEST(SpecTokens, CommentsInsideADirectiveDoNotEndIt) {
  auto toks = tokenize("#define X 1 /* a\n b */ 2\ny");
  ASSERT_EQ(toks.size(), 6u);
  EXPECT_EQ(toks[0].kind, TokenKind::Directive);
  EXPECT_FALSE(toks[4].line_start);  // 2 is still part of the #define
  EXPECT_EQ(toks[4].line, 2);
  EXPECT_TRUE(toks[5].line_start);
}

TEST(SpecTokens, DirectivesOnlyAtTheStartOfALine) {
  auto toks = tokenize("  #  include <linux/8250_pci.h>\nx # y ## z\n%:if 1\n");
  EXPECT_EQ(toks[0].kind, TokenKind::Directive);
  EXPECT_EQ(toks[2].kind, TokenKind::HeaderName);
  EXPECT_EQ(toks[2].text, "<linux/8250_pci.h>");
  EXPECT_EQ(toks[4].kind, TokenKind::Punct);
  EXPECT_EQ(toks[6].text, "##");
  EXPECT_EQ(toks[8].kind, TokenKind::Directive);
  EXPECT_EQ(toks[8].text, "%:");
}

TEST(SpecTokens, PunctuatorsTakeTheLongestMatch) {
  auto toks = tokenize("a<<=b->c...d>>e");
  EXPECT_EQ(texts(toks, TokenKind::Punct), (Texts{"<<=", "->", "...", ">>"}));
}

TEST(SpecTokens, UnterminatedLiteralEndsAtItsLine) {
  // An apostrophe in #if 0 prose must not swallow the rest of the file.
  auto toks = tokenize("#if 0\ndon't 5\n#endif\nx = 6;\n");
  EXPECT_EQ(texts(toks, TokenKind::Char), (Texts{"'t 5"}));
  EXPECT_EQ(texts(toks, TokenKind::Integer), (Texts{"0", "6"}));
}

TEST(SpecTokens, OffsetsAndLinesWithCrLf) {
  std::string src = "a = 1;\r\nb = 0x20;\r\n";
  auto toks = tokenize(src);
  ASSERT_EQ(toks.size(), 8u);
  EXPECT_EQ(toks[6].text, "0x20");
  EXPECT_EQ(toks[6].line, 2);
  EXPECT_EQ(toks[6].offset, 12u);
  EXPECT_EQ(toks[6].length, 4u);
}

TEST(SpecIntLiteral, ParsesValueBaseAndSuffix) {
  auto l = parse_int_literal("0x7fUL");
  ASSERT_TRUE(l) << l.error().message;
  EXPECT_EQ(l->value, 127u);
  EXPECT_EQ(l->base, 16);
  EXPECT_EQ(l->prefix, "0x");
  EXPECT_EQ(l->digits, "7f");
  EXPECT_EQ(l->suffix, "UL");
  EXPECT_EQ(parse_int_literal("0755")->value, 0755u);
  EXPECT_EQ(parse_int_literal("0755")->base, 8);
  EXPECT_EQ(parse_int_literal("0")->base, 10);
  EXPECT_EQ(parse_int_literal("0b101")->value, 5u);
  EXPECT_EQ(parse_int_literal("10000LL")->value, 10000u);
  EXPECT_EQ(parse_int_literal("0xffffffffffffffff")->value, UINT64_MAX);
}

TEST(SpecIntLiteral, RefusesNonIntegersAndOverflow) {
  EXPECT_NE(parse_int_literal("18446744073709551616").error().message.find("64 bits"), std::string::npos);
  for (auto bad : {"1.5", "u64", "09", "1lL", "", "0x"})
    EXPECT_NE(parse_int_literal(bad).error().message.find("not an integer literal"), std::string::npos) << bad;
}

TEST(SpecIntLiteral, RendersInTheSameStyle) {
  auto r = [](const char *text, uint64_t v) { return render_int_literal(text, v).value(); };
  EXPECT_EQ(r("16U", 64), "64U");
  EXPECT_EQ(r("0x7f", 255), "0xff");
  EXPECT_EQ(r("0X1F", 255), "0XFF");
  EXPECT_EQ(r("0X10", 255), "0XFF");
  EXPECT_EQ(r("0x10", 171), "0xab");
  EXPECT_EQ(r("0x00ff", 16), "0x0010");
  EXPECT_EQ(r("0x7f", 1), "0x1");
  EXPECT_EQ(r("0755", 0644), "0644");
  EXPECT_EQ(r("0b101", 6), "0b110");
  EXPECT_EQ(r("32UL", 0), "0UL");
  EXPECT_EQ(r("0", 5), "5");
  EXPECT_EQ(r("10000LL", 20000), "20000LL");
  EXPECT_FALSE(render_int_literal("HZ", 5));
}

}  // namespace
}  // namespace kx
