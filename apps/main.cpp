#include <iostream>
int main() { std::cout << "bcqnmt\n"; }
