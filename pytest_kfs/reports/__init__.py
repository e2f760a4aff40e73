"""What a run reports: terminal blocks and summaries, JSON, Markdown, HTML, and merging
reports of several runs (pure: records in, text out; the plugin writes the files).
"""
