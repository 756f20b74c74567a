"""The credit check (Art. 29) and its feedback (奖惩结果反馈)."""
