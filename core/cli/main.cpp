#include <cstdio>
int main() { std::puts("zotune"); return 0; }
