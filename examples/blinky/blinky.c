/* LD2 (PA5) blinks on a NUCLEO-F401RE. Small on purpose: a known image for trying stflash. */
#include <stdint.h>

#define REG(addr) (*(volatile uint32_t *)(addr))
#define RCC_AHB1ENR REG(0x40023830u)
#define GPIOA_MODER REG(0x40020000u)
#define GPIOA_ODR REG(0x40020014u)

extern uint32_t _stack_top;
void reset_handler(void);

__attribute__((section(".vectors"), used)) static void (*const vectors[2])(void) = {
    (void (*)(void))&_stack_top,
    reset_handler,
};

void reset_handler(void)
{
    RCC_AHB1ENR |= 1u << 0;                              /* GPIOA clock */
    GPIOA_MODER = (GPIOA_MODER & ~(3u << 10)) | (1u << 10); /* PA5 output */
    for (;;) {
        GPIOA_ODR ^= 1u << 5;
        for (volatile uint32_t i = 0; i < 400000u; i++) {
        }
    }
}
