"""Worker visibility: who polls the task queue, from Temporal's DescribeTaskQueue."""
