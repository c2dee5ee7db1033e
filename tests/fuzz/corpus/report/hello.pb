
3

agent-1pod-02	
zonea
creditv1prod