
agent-1	2
spool_full8x