"""The sample grader repository and submissions are data, run by tests/test_grader_workflow.py
in a workspace of their own; the suite itself must not collect the hidden tests."""

collect_ignore = ["repo", "solution", "solution-partial"]
