// ucs_tcpopt_parse: walking a TCP option block for RFC 6994 experimental options
// (kind 253, 16-bit ExID).
extern "C" {
#include "tcp_options.h"
}

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <random>
#include <sys/mman.h>
#include <unistd.h>
#include <vector>

namespace {

using Block = std::vector<uint8_t>;

const uint8_t EOL = 0, NOP = 1, EXP = UCS_TCPOPT_EXP;

// The options a Linux SYN carries: MSS 1460, SACK permitted, timestamps, NOP, window scale 7.
const Block kSyn = {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0x11, 0x22, 0x33, 0x44, 0, 0, 0, 0, NOP, 3, 3, 7};

Block exp_opt(uint16_t exid, const Block &payload)
{
    Block b = {EXP, (uint8_t)(4 + payload.size()), (uint8_t)(exid >> 8), (uint8_t)exid};
    b.insert(b.end(), payload.begin(), payload.end());
    return b;
}

Block cat(std::initializer_list<Block> parts)
{
    Block out;
    for (const auto &p : parts)
        out.insert(out.end(), p.begin(), p.end());
    return out;
}

// A found[] array larger than what the parser is told, so writes past max show.
struct Found {
    static constexpr unsigned kSize = 16;
    ucs_tcpopt_exp e[kSize];
    Found()
    {
        for (auto &x : e)
            x = sentinel();
    }
    static ucs_tcpopt_exp sentinel() { return ucs_tcpopt_exp{0xdead, 0xee, nullptr}; }
    bool untouched_from(unsigned k) const
    {
        for (; k < kSize; k++)
            if (e[k].exid != 0xdead || e[k].len != 0xee || e[k].payload != nullptr)
                return false;
        return true;
    }
};

int parse(const Block &b, Found &f, unsigned max = UCS_TCPOPT_MAX_HANDLERS)
{
    return ucs_tcpopt_parse(b.data(), b.size(), f.e, max);
}

TEST(TcpOptParse, EmptyBlock)
{
    Found f;
    uint8_t byte = EXP; // a readable byte that must not be looked at
    EXPECT_EQ(0, ucs_tcpopt_parse(&byte, 0, f.e, UCS_TCPOPT_MAX_HANDLERS));
    EXPECT_EQ(0, ucs_tcpopt_parse(nullptr, 0, f.e, UCS_TCPOPT_MAX_HANDLERS));
    EXPECT_TRUE(f.untouched_from(0));
}

TEST(TcpOptParse, OnlyNops)
{
    Found f;
    EXPECT_EQ(0, parse(Block(1, NOP), f));
    EXPECT_EQ(0, parse(Block(40, NOP), f));
    EXPECT_TRUE(f.untouched_from(0));
}

TEST(TcpOptParse, EolStopsParsing)
{
    Found f;
    // An experimental option after EOL is not looked at.
    EXPECT_EQ(0, parse(cat({{NOP, EOL}, exp_opt(0x1234, {1, 2})}), f));
    EXPECT_TRUE(f.untouched_from(0));
    // Nor is garbage that would otherwise be malformed.
    EXPECT_EQ(0, parse({EOL, 2, 0, EXP, 1}, f));
    EXPECT_EQ(0, parse({EOL}, f));
    // One before EOL counts, one after does not.
    Block b = cat({exp_opt(0x1111, {9}), {EOL}, exp_opt(0x2222, {8})});
    ASSERT_EQ(1, parse(b, f));
    EXPECT_EQ(0x1111, f.e[0].exid);
    EXPECT_TRUE(f.untouched_from(1));
}

TEST(TcpOptParse, TypicalSynHasNoExperimentalOptions)
{
    Found f;
    EXPECT_EQ(0, parse(kSyn, f));
    EXPECT_TRUE(f.untouched_from(0));
}

TEST(TcpOptParse, OtherKindsAreSkippedByTheirLength)
{
    Found f;
    // Kind 30 (MPTCP) with a length of 6 whose body looks like an experimental option:
    // the parser must skip it whole rather than step into it.
    Block b = {30, 6, EXP, 4, 0x77, 0x77, NOP, NOP};
    EXPECT_EQ(0, parse(b, f));
    // Kind 254 (the other experimental kind) is not ours.
    EXPECT_EQ(0, parse({254, 4, 0x12, 0x34}, f));
}

TEST(TcpOptParse, OneExperimentalOptionInASyn)
{
    Found f;
    Block b = cat({{2, 4, 0x05, 0xb4, NOP, NOP}, exp_opt(0xabcd, {0xde, 0xad, 0xbe, 0xef, 0x42}), {NOP, 3, 3, 7}});
    ASSERT_EQ(1, parse(b, f));
    EXPECT_EQ(0xabcd, f.e[0].exid);
    EXPECT_EQ(5, f.e[0].len);
    EXPECT_EQ(b.data() + 6 + 4, f.e[0].payload);
    EXPECT_EQ(0, memcmp(f.e[0].payload, "\xde\xad\xbe\xef\x42", 5));
    EXPECT_TRUE(f.untouched_from(1));
}

TEST(TcpOptParse, ExperimentalOptionWithEmptyPayloadAtTheEnd)
{
    Found f;
    Block b = cat({kSyn, exp_opt(0x0001, {})});
    ASSERT_EQ(1, parse(b, f));
    EXPECT_EQ(0x0001, f.e[0].exid);
    EXPECT_EQ(0, f.e[0].len);
    EXPECT_EQ(b.data() + b.size(), f.e[0].payload);
}

TEST(TcpOptParse, OptionEndingExactlyAtTheBlockEnd)
{
    Found f;
    Block b = exp_opt(0xfffe, Block(36, 0x5a)); // 40 bytes, the most TCP allows
    ASSERT_EQ(40u, b.size());
    ASSERT_EQ(1, parse(b, f));
    EXPECT_EQ(0xfffe, f.e[0].exid);
    EXPECT_EQ(36, f.e[0].len);
    EXPECT_EQ(b.data() + 4, f.e[0].payload);
}

TEST(TcpOptParse, TwoDifferentExids)
{
    Found f;
    Block b = cat({exp_opt(0x0102, {7, 7}), {NOP}, exp_opt(0x0201, {9}), {NOP, NOP, NOP}, {2, 4, 0x05, 0xb4}});
    ASSERT_EQ(2, parse(b, f));
    EXPECT_EQ(0x0102, f.e[0].exid);
    EXPECT_EQ(2, f.e[0].len);
    EXPECT_EQ(b.data() + 4, f.e[0].payload);
    EXPECT_EQ(0x0201, f.e[1].exid);
    EXPECT_EQ(1, f.e[1].len);
    EXPECT_EQ(b.data() + 6 + 1 + 4, f.e[1].payload);
    EXPECT_EQ(9, *f.e[1].payload);
    EXPECT_TRUE(f.untouched_from(2));
}

TEST(TcpOptParse, MalformedLengthZero)
{
    Found f;
    EXPECT_EQ(-1, parse({2, 0, 0x05, 0xb4}, f));
    EXPECT_EQ(-1, parse(cat({kSyn, {EXP, 0, 0, 0}}), f));
}

TEST(TcpOptParse, MalformedLengthOne)
{
    Found f;
    EXPECT_EQ(-1, parse({NOP, 8, 1, NOP, NOP}, f));
    EXPECT_EQ(-1, parse({EXP, 1, 0x12, 0x34}, f));
}

TEST(TcpOptParse, MalformedLengthPastTheEnd)
{
    Found f;
    EXPECT_EQ(-1, parse({2, 4, 0x05}, f));
    EXPECT_EQ(-1, parse(cat({kSyn, {8, 10, 1, 2, 3, 4, 5, 6, 7}}), f));
    Block b = exp_opt(0x1234, {1, 2, 3});
    b.pop_back();
    EXPECT_EQ(-1, parse(b, f));
    EXPECT_EQ(-1, parse({EXP, 255, 0x12, 0x34}, f));
}

TEST(TcpOptParse, MalformedKindWithoutLength)
{
    Found f;
    EXPECT_EQ(-1, parse({2}, f));
    EXPECT_EQ(-1, parse({NOP, NOP, 3}, f));
    EXPECT_EQ(-1, parse(cat({exp_opt(0x1234, {}), {EXP}}), f));
}

TEST(TcpOptParse, MalformedExperimentalOptionTooShortForExid)
{
    Found f;
    EXPECT_EQ(-1, parse({EXP, 2, NOP, NOP}, f));
    EXPECT_EQ(-1, parse({EXP, 3, 0x12, NOP}, f));
    EXPECT_EQ(-1, parse({EXP, 3, 0x12}, f));
}

TEST(TcpOptParse, MalformedSameExidTwice)
{
    Found f;
    EXPECT_EQ(-1, parse(cat({exp_opt(0x4242, {1}), exp_opt(0x4242, {2})}), f));
    EXPECT_EQ(-1, parse(cat({exp_opt(0x4242, {1}), exp_opt(0x1111, {}), {NOP}, exp_opt(0x4242, {})}), f));
}

TEST(TcpOptParse, MalformedAfterAValidOptionStillFails)
{
    Found f;
    // A good option followed by a broken one: the whole block is refused.
    EXPECT_EQ(-1, parse(cat({exp_opt(0x1234, {1, 2}), {2, 1}}), f));
}

TEST(TcpOptParse, MaxLimitsWhatIsReturned)
{
    Block b = cat({exp_opt(1, {0x10}), exp_opt(2, {0x20, 0x21}), exp_opt(3, {}), exp_opt(4, {0x40}),
                   exp_opt(5, {}), exp_opt(6, {})});
    ASSERT_LE(b.size(), 40u);
    for (unsigned max = 0; max <= 8; max++) {
        Found f;
        int n = parse(b, f, max);
        EXPECT_EQ((int)std::min(max, 6u), n) << "max " << max;
        for (int k = 0; k < n; k++)
            EXPECT_EQ(k + 1, f.e[k].exid) << "max " << max;
        EXPECT_TRUE(f.untouched_from(std::min(max, 6u))) << "max " << max;
    }
    Found f;
    ASSERT_EQ(2, parse(b, f, 2));
    EXPECT_EQ(1, f.e[0].len);
    EXPECT_EQ(b.data() + 4, f.e[0].payload);
    EXPECT_EQ(2, f.e[1].len);
    EXPECT_EQ(b.data() + 5 + 4, f.e[1].payload);
    // With max 0 found[] is never touched, so it may be null.
    EXPECT_EQ(0, ucs_tcpopt_parse(b.data(), b.size(), nullptr, 0));
}

TEST(TcpOptParse, DuplicateBeyondMaxIsStillMalformed)
{
    // The contract: one ExID twice makes the block malformed, however many options
    // the caller has room for.
    Block b = cat({exp_opt(0x0a0a, {}), exp_opt(0x0b0b, {}), exp_opt(0x0b0b, {})});
    Found f;
    EXPECT_EQ(-1, parse(b, f, 3));
    EXPECT_EQ(-1, parse(b, f, 1));
    EXPECT_EQ(-1, ucs_tcpopt_parse(b.data(), b.size(), nullptr, 0));
    Block five = cat({exp_opt(1, {}), exp_opt(2, {}), exp_opt(3, {}), exp_opt(4, {}), exp_opt(5, {}),
                      exp_opt(5, {})});
    EXPECT_EQ(-1, parse(five, f, UCS_TCPOPT_MAX_HANDLERS));
}

// ---- Randomized robustness ----------------------------------------------------------

struct RefExp {
    uint16_t exid;
    uint8_t len;
    size_t offset;
};

// An independent reading of the contract, reporting every experimental option.
int reference_parse(const uint8_t *o, size_t len, std::vector<RefExp> &all)
{
    size_t i = 0;
    all.clear();
    while (i < len) {
        if (o[i] == EOL)
            break;
        if (o[i] == NOP) {
            i++;
            continue;
        }
        if (len - i < 2)
            return -1;
        size_t olen = o[i + 1];
        if (olen < 2 || i + olen > len)
            return -1;
        if (o[i] == EXP) {
            if (olen < 4)
                return -1;
            uint16_t exid = (uint16_t)(o[i + 2] << 8 | o[i + 3]);
            for (const auto &e : all)
                if (e.exid == exid)
                    return -1;
            all.push_back({exid, (uint8_t)(olen - 4), i + 4});
        }
        i += olen;
    }
    return (int)all.size();
}

// Blocks that look like option blocks often enough to get past the first byte.
Block random_block(std::mt19937 &rng)
{
    std::uniform_int_distribution<int> byte(0, 255), len(0, 40), pct(0, 99), small(0, 9);
    size_t n = (size_t)len(rng);
    Block b;
    if (pct(rng) < 30) {
        for (size_t i = 0; i < n; i++)
            b.push_back((uint8_t)byte(rng));
        return b;
    }
    static const uint16_t exids[] = {0x1234, 0xabcd, 0x0001, 0x0002, 0x0003, 0x0004, 0x0005, 0xffff};
    while (b.size() < n) {
        int r = pct(rng);
        if (r < 20) {
            b.push_back(NOP);
        } else if (r < 22) {
            b.push_back(EOL);
        } else if (r < 70) {
            uint16_t exid = exids[small(rng) % 8];
            int plen = pct(rng) < 90 ? small(rng) % 4 : small(rng);
            int olen = pct(rng) < 95 ? 4 + plen : small(rng) % 5; // sometimes a bad length
            b.push_back(EXP);
            b.push_back((uint8_t)olen);
            b.push_back((uint8_t)(exid >> 8));
            b.push_back((uint8_t)exid);
            for (int k = 0; k < plen; k++)
                b.push_back((uint8_t)byte(rng));
        } else if (r < 95) {
            static const uint8_t kinds[] = {2, 3, 4, 5, 8, 30, 34, 254};
            uint8_t kind = kinds[small(rng) % 8];
            int olen = pct(rng) < 95 ? 2 + small(rng) % 9 : byte(rng);
            b.push_back(kind);
            b.push_back((uint8_t)olen);
            for (int k = 2; k < olen && k < 10; k++)
                b.push_back((uint8_t)byte(rng));
        } else {
            b.push_back((uint8_t)byte(rng));
        }
    }
    b.resize(n); // cut mid-option, often
    return b;
}

// Three pages, the outer two inaccessible: a block placed against either guard
// faults on any read outside it.
class Guarded {
  public:
    Guarded()
    {
        page_ = (size_t)sysconf(_SC_PAGESIZE);
        void *m = mmap(nullptr, 3 * page_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED)
            return;
        base_ = (uint8_t *)m;
        if (mprotect(base_, page_, PROT_NONE) || mprotect(base_ + 2 * page_, page_, PROT_NONE)) {
            munmap(base_, 3 * page_);
            base_ = nullptr;
        }
    }
    ~Guarded()
    {
        if (base_)
            munmap(base_, 3 * page_);
    }
    bool ok() const { return base_ != nullptr; }
    const uint8_t *at_start(const Block &b)
    {
        if (!b.empty())
            memcpy(base_ + page_, b.data(), b.size());
        return base_ + page_;
    }
    const uint8_t *at_end(const Block &b)
    {
        uint8_t *p = base_ + 2 * page_ - b.size();
        if (!b.empty())
            memcpy(p, b.data(), b.size());
        return p;
    }

  private:
    uint8_t *base_ = nullptr;
    size_t page_ = 0;
};

// Checks one parse of b placed at p against the reference; returns its result.
int check_one(const uint8_t *p, size_t len, unsigned max, int want, const std::vector<RefExp> &all,
              const char *where)
{
    Found f;
    int n = ucs_tcpopt_parse(p, len, f.e, max);
    EXPECT_TRUE(n == -1 || (n >= 0 && (unsigned)n <= max)) << where << ": returned " << n << " with max " << max;
    EXPECT_TRUE(f.untouched_from(max)) << where << ": wrote past found[max]";
    int expect = want < 0 ? -1 : (int)std::min<size_t>(all.size(), max);
    EXPECT_EQ(expect, n) << where << ": len " << len << " max " << max;
    for (int k = 0; k < n && k < (int)Found::kSize; k++) {
        const ucs_tcpopt_exp &e = f.e[k];
        EXPECT_TRUE(e.payload >= p && e.payload <= p + len && e.len <= (size_t)(p + len - e.payload))
            << where << ": found[" << k << "] outside the block";
        if (k < (int)all.size() && n == expect) {
            EXPECT_EQ(all[k].exid, e.exid) << where;
            EXPECT_EQ(all[k].len, e.len) << where;
            EXPECT_EQ(p + all[k].offset, e.payload) << where;
        }
    }
    return n;
}

TEST(TcpOptParse, RandomBlocksStayInside)
{
    std::mt19937 rng(12345);
    std::uniform_int_distribution<unsigned> maxd(0, 6);
    Guarded guard;
    ASSERT_TRUE(guard.ok());
    std::vector<RefExp> all;
    unsigned malformed = 0, none = 0, some = 0, truncated = 0;

    for (int iter = 0; iter < 200000; iter++) {
        Block b = random_block(rng);
        unsigned max = maxd(rng);
        int want = reference_parse(b.data(), b.size(), all);

        // Exactly the block's length on the heap, as the brief asks...
        Block exact(b);
        exact.shrink_to_fit();
        int n = check_one(exact.data(), exact.size(), max, want, all, "heap");
        // ...and against guard pages on both sides, where any stray read faults.
        check_one(guard.at_end(b), b.size(), max, want, all, "end of page");
        check_one(guard.at_start(b), b.size(), max, want, all, "start of page");

        if (n < 0)
            malformed++;
        else if (n == 0)
            none++;
        else
            some++;
        if (n >= 0 && all.size() > max)
            truncated++;
        if (HasFailure()) {
            ADD_FAILURE() << "stopping at iteration " << iter;
            break;
        }
    }
    // The generator must have reached every outcome, or the test proves little.
    EXPECT_GT(malformed, 10000u);
    EXPECT_GT(none, 10000u);
    EXPECT_GT(some, 10000u);
    EXPECT_GT(truncated, 1000u);
}

} // namespace
