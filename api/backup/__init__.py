"""Backups of the platform's database and their restore (Art. 34: 数据备份与恢复)."""
